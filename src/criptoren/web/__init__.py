"""The web panel at ``/painel``: server-rendered HTML and ES modules over the public API."""
