# The app in a container. Build and run:
#   docker build -t medlab . && docker run --rm -p 8501:8501 medlab
# then open http://localhost:8501. Trained models are written to /app/models inside the container: mount a volume
# there (-v medlab-models:/app/models) to keep them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY app.py pyproject.toml README.md ./
COPY .streamlit .streamlit
COPY app_pages app_pages
COPY ui ui
COPY medlib medlib
COPY models models
COPY samples samples

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request as u; u.urlopen('http://localhost:8501/_stcore/health')"
CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
