"""Testing: the suite points DATABASE_URL and REDIS_URL at its own database and queue."""
TESTING = True
PLUGIN_MAX_CONSECUTIVE_FAILURES = 3
