"""Production: PostgreSQL and Redis from the environment; a real SECRET_KEY is required."""
REQUIRE_SECRET_KEY = True
REQUIRE_WECHAT_TOKEN = True
SESSION_COOKIE_SECURE = True
ONE_TIME_CODES_TO_LOG = False
