"""Testing: the suite points DATABASE_URL and REDIS_URL at its own database and queue."""
TESTING = True
PLUGIN_MAX_CONSECUTIVE_FAILURES = 3
# The suite makes many calls from one address; the rate-limit tests switch limits on themselves.
RATE_LIMITS_ENABLED = False
