"""Testing: the suite points DATABASE_URL and REDIS_URL at its own database and queue."""
TESTING = True
PLUGIN_MAX_CONSECUTIVE_FAILURES = 3
# The suite makes many calls from one address; the rate-limit tests switch limits on themselves.
RATE_LIMITS_ENABLED = False
# Tests run dozens of concurrent clients in one process: let them queue for a connection.
DB_POOL_TIMEOUT = 60
CHECK_ERROR_CODES = True  # an endpoint answering an error code it does not declare (@errors) answers 500
# Requests in the suite carry no Accept-Language; most tests read English text. The tests of
# languages ask for theirs (Accept-Language, a saved preference, or BRAND_LOCALE in their config).
BRAND_LOCALE = "en"
