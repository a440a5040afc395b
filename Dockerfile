# A plain image for compose.yaml (not used by the tests).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir .
ENV CRIPTOREN_HOST=0.0.0.0
CMD ["criptoren", "serve"]
