# The Encore project as one image for every process of docker-compose.yml: web, worker, beat
# and Flower run the same code with different commands. `make run` needs none of this.
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt
# The project itself is mounted over /app by docker-compose.yml, so edits show without a
# rebuild; this copy makes the image work alone too.
COPY starter_project/ /app/
RUN useradd --create-home encore && mkdir -p /data && chown encore /data
USER encore
