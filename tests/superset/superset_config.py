"""Superset's configuration for the tests: a SQLite metadata database in SUPERSET_HOME, a secret
per run, CSRF off (the tests call the REST API with a bearer token)."""

import os

SECRET_KEY = os.environ["RUNYARD_TEST_SUPERSET_SECRET"]
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(os.environ["SUPERSET_HOME"], "superset.db")
WTF_CSRF_ENABLED = False
TALISMAN_ENABLED = False
# No Celery or Redis here: SQL Lab and the charts run queries in the web process.
RESULTS_BACKEND = None
