"""Default settings shared by every environment."""
from config import DEFAULT_SECRET_KEY, DEFAULT_WECHAT_TOKEN

SECRET_KEY = DEFAULT_SECRET_KEY
REQUIRE_SECRET_KEY = False
DATABASE_URL = None  # unset: a SQLite file in the instance folder
REDIS_URL = None  # unset: jobs run inline, rate-limit state in memory
RQ_QUEUE = "memberday"
SQLALCHEMY_TRACK_MODIFICATIONS = False
# No pre-ping: it costs every request a round trip. Connections are recycled after
# DB_POOL_RECYCLE seconds instead, and one found dead (a restart, a failover) fails its request
# cleanly -- 503 with Retry-After, nothing half-written -- and has every pooled connection of
# that moment replaced, so the client's retry gets a fresh one.
SQLALCHEMY_ENGINE_OPTIONS = {}
# PostgreSQL connections per process (each gunicorn worker and rq worker has its own pool;
# docs/operators.md has the sizing rule). A request that gets no connection within
# DB_POOL_TIMEOUT seconds is answered 503 with Retry-After: RETRY_AFTER_SECONDS.
DB_POOL_SIZE = 5
DB_MAX_OVERFLOW = 10
DB_POOL_TIMEOUT = 5
DB_POOL_RECYCLE = 300
DB_CONNECT_TIMEOUT = 5
RETRY_AFTER_SECONDS = 2

BRAND_NAME = "Memberday Coffee"
# Phones written without a country code are read as numbers of this region (ISO 3166 code).
DEFAULT_PHONE_REGION = "TW"
BRAND_TIMEZONE = "Asia/Taipei"
# The language of pages, replies and notifications when neither the member's saved preference
# nor the browser's Accept-Language names one we have: zh-Hant, zh-Hans or en.
BRAND_LOCALE = "zh-Hant"
# The currency of the brand's prices and orders (ISO 4217): amounts are shown in the member's locale.
BRAND_CURRENCY = "TWD"
PUBLIC_URL = "http://127.0.0.1:5000"

# Points: earned per whole unit of money paid, and how long a credit stays spendable.
POINTS_PER_UNIT = 1
POINTS_EXPIRY_DAYS = 365
POINTS_MAX_ADJUSTMENT = 1_000_000
# The hourly expiry job splits members into this many parts and expires them at once, each on a
# database connection of its own (PostgreSQL only): about as many as the database has cores.
POINTS_EXPIRY_PARTS = 2

# Tiers from lowest to highest; plugins compare positions in this list.
TIERS = ["member", "silver", "gold", "platinum"]

# Lifecycle windows, in days since the last paid order.
STAGE_NEW_DAYS = 30
STAGE_ACTIVE_DAYS = 30
STAGE_AT_RISK_DAYS = 60

# Plugin host: load the plugins installed under the `memberday.plugins` entry points
# (off only to measure the core alone).
PLUGINS_DISCOVER = True
# Switch a plugin off after this many event-hook failures in a row.
PLUGIN_MAX_CONSECUTIVE_FAILURES = 5
# Each process is told of plugin switches and settings changes (PostgreSQL NOTIFY) and keeps
# them in memory; this often it also re-reads the version row, in case a notice was lost.
# Without a listening connection (SQLite, or while it reconnects) it checks on every request.
PLUGIN_STATE_CHECK_SECONDS = 10

# Events (the outbox): the process that wrote an event delivers it right after the commit and
# holds it this long; after that the relay job may take it over (a crash, an error).
EVENT_CLAIM_SECONDS = 60
# A plugin whose handler raised gets the event again after EVENT_RETRY_SECONDS, doubling each
# time (at most an hour), up to EVENT_MAX_ATTEMPTS attempts in all.
EVENT_RETRY_SECONDS = 30
EVENT_MAX_ATTEMPTS = 8
# Delivered events are kept this long (for inspection), then purged by a periodic job.
EVENT_RETENTION_DAYS = 14

# Idempotency keys are kept this long, then purged by a periodic job.
IDEMPOTENCY_KEY_TTL_HOURS = 24

# Rate limits by name (Flask-Limiter notation), overriding core.ratelimit.DEFAULT_LIMITS, e.g.
# {"join": "1000/minute"}; RATE_LIMITS_ENABLED = False turns every limit off. Counters live in
# Redis when REDIS_URL is set. TRUSTED_PROXIES: how many reverse proxies set X-Forwarded-For.
RATE_LIMITS = {}
RATE_LIMITS_ENABLED = True
TRUSTED_PROXIES = 0

# WeChat official-account callback token (the one set in the WeChat console); production refuses
# this published default. Safe mode (AES-encrypted messages): set both the EncodingAESKey and the AppID.
WECHAT_TOKEN = DEFAULT_WECHAT_TOKEN
REQUIRE_WECHAT_TOKEN = False
WECHAT_ENCODING_AES_KEY = None
WECHAT_APP_ID = None
# A call whose timestamp is further than this from our clock is refused; nonces are remembered this long.
WECHAT_MAX_CLOCK_SKEW = 300
WECHAT_NONCE_TTL = 600

# An inbound message claimed by a process that never answered (it died) is taken over by a
# redelivery once the claim is this old.
MESSAGE_CLAIM_TIMEOUT_SECONDS = 5

API_TITLE = "Memberday"
API_VERSION = "v1"
OPENAPI_VERSION = "3.0.3"
OPENAPI_URL_PREFIX = "/api"
OPENAPI_JSON_PATH = "openapi.json"
MAX_CONTENT_LENGTH = 1024 * 1024
SESSION_COOKIE_SAMESITE = "Lax"
# API tokens expire this many days after they are issued (None: never; rotate or revoke by hand).
OPERATOR_TOKEN_DAYS = None
MEMBER_TOKEN_DAYS = None
# Members' and operators' sign-in sessions (server-side) end after this many days; None: at sign-out.
SESSION_LIFETIME_DAYS = 30

# Members sign in with a one-time code sent to their phone: its lifetime and how many wrong tries
# lock it. With no plugin delivering codes (memberday_send_one_time_code), development writes the
# code to the log; production never does.
ONE_TIME_CODE_MINUTES = 10
ONE_TIME_CODE_ATTEMPTS = 5
ONE_TIME_CODES_TO_LOG = True

# WeChat web sign-in (OAuth snsapi_base) for the members' pages: the official account's AppID
# and AppSecret; WECHAT_OAUTH_API_BASE is where the code is exchanged for an openid.
WECHAT_OAUTH_APP_ID = None
WECHAT_OAUTH_SECRET = None
WECHAT_OAUTH_API_BASE = "https://api.weixin.qq.com/"
WECHAT_OAUTH_BASE = "https://open.weixin.qq.com/connect/"
