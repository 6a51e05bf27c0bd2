"""Built-in detectors for credentials: cloud and API keys, tokens, private
keys, passwords in URLs and secret-looking assignments."""

from __future__ import annotations

from s3gate.transform.detectors import DetectorSpec, Examples
from s3gate.transform.library_patterns import PEM_MAX_CHARS, P

# The names of values that are secrets when assigned: `password=…`,
# `api_key: …`, `"client_secret": "…"`. A name must *end* with one of these,
# so `max_tokens`, `token_count` and `password_hash` are not secret names.
_KEY_NAME_WORDS = (
    r"passw(?:or)?d|passphrase|pwd|secret|secret[_-]?key|secret[_-]?access[_-]?key"
    r"|client[_-]?secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|credentials?|auth[_-]?key|signing[_-]?key|encryption[_-]?key"
)
# The same names after their first letter (consumed by `[acepstACEPST]`
# before it; `(?<=x)` says which): in `_KEY_NAME_WORDS`'s order within
# each letter, and names with different first letters never both match.
_KEY_NAME_WORDS_LED = (
    r"(?<=p)(?:assw(?:or)?d|assphrase|wd|rivate[_-]?key)"
    r"|(?<=s)(?:ecret|ecret[_-]?key|ecret[_-]?access[_-]?key|igning[_-]?key)"
    r"|(?<=c)(?:lient[_-]?secret|redentials?)|(?<=t)oken"
    r"|(?<=a)(?:pi[_-]?key|pikey|ccess[_-]?key|uth[_-]?key)|(?<=e)ncryption[_-]?key"
)
_ASSIGN = r"(?:\\{0,7}[\"'])?[ \t]*(?:=>|:=|[:=])[ \t]*"
# The same on raw JSON bytes, where a tab inside a string is written `\t`.
_RAW_ASSIGN = rb"(?:\\{0,7}[\"'])?(?:[ \t]|\\t)*[:=]"

SECRET_SPECS: tuple[DetectorSpec, ...] = (
    DetectorSpec(
        id="aws_access_key_id",
        label="AWS_ACCESS_KEY_ID",
        description="AWS access key ids (AKIA…, ASIA…, …).",
        pattern=(
            r"A(?<![A-Za-z0-9].)(?:KIA|SIA|BIA|CCA|GPA|IDA|IPA|NPA|NVA|PKA|ROA)"
            r"[A-Z2-7]{16}(?![A-Za-z0-9])"
        ),
        prefilters=(P(rb"A(?:KIA|SIA|BIA|CCA|GPA|IDA|IPA|NPA|NVA|PKA|ROA)[A-Z2-7]{16}"),),
        examples=Examples(
            positive=("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"),
            negative=("AKIAIOSFODNN7EXAMPL", "XAKIAIOSFODNN7EXAMPLE1"),
        ),
    ),
    DetectorSpec(
        id="aws_secret_access_key",
        label="AWS_SECRET_KEY",
        description="AWS secret access keys: 40 base64 characters near 'aws'/'secret'.",
        # `(?<![A-Za-z0-9])(?i:aws|secret|access[_ -]?key)…`, led by its
        # first letter (see `_LEAD` in library_pii).
        pattern=(
            r"[asAS](?<![A-Za-z0-9][asAS])(?i:(?<=a)(?:ws|ccess[_ -]?key)|(?<=s)ecret)"
            r"[^\n]{0,40}?(?<![A-Za-z0-9/+=])(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        # Raw JSON spells quotes `\"`: allow a longer gap than the decoded 40.
        prefilters=(
            P(
                rb"(?:^|[^A-Za-z0-9]|\\[ntr])(?i:aws|secret|access[_ -]?key)[^\n]{0,80}"
                rb"(?:[^A-Za-z0-9/+=]|\\[ntr])[A-Za-z0-9/+]{40}"
            ),
        ),
        validators=(("value", "mixed_case_key"),),
        examples=Examples(
            positive=(
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                '"SecretAccessKey": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"',
            ),
            negative=(
                "commit da39a3ee5e6b4b0d3255bfef95601890afd80709",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY without a hint",
            ),
        ),
    ),
    DetectorSpec(
        id="github_token",
        label="GITHUB_TOKEN",
        description="GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_).",
        pattern=(
            r"g(?<![A-Za-z0-9_].)(?:h[pousr]_[A-Za-z0-9]{36,251}|ithub_pat_[A-Za-z0-9_]{60,255})"
            r"(?![A-Za-z0-9_])"
        ),
        prefilters=(P(rb"gh[pousr]_[A-Za-z0-9]{36}"), P(rb"github_pat_[A-Za-z0-9_]{60}")),
        examples=Examples(
            positive=("token ghp_16C7e42F292c6912E7710c838347Ae178B4a then",),
            negative=("ghp_short", "the ghp_ prefix"),
        ),
    ),
    DetectorSpec(
        id="gitlab_token",
        label="GITLAB_TOKEN",
        description="GitLab tokens (glpat-, gldt-, glrt-, glptt-, …).",
        pattern=(
            r"g(?<![A-Za-z0-9_-].)l(?:pat|dt|rt|ptt|ft|imt|agent|oas|cbt|soat|cit)-"
            r"[A-Za-z0-9_.-]{20,64}(?![A-Za-z0-9_-])"
        ),
        prefilters=(P(rb"gl(?:pat|dt|rt|ptt|ft|imt|agent|oas|cbt|soat|cit)-[A-Za-z0-9_.-]{20}"),),
        examples=Examples(
            positive=("PRIVATE-TOKEN: glpat-xYz12AbC3dEf4GhI5jKl",),
            negative=("glpat-short", "glpat- prefix docs"),
        ),
    ),
    DetectorSpec(
        id="slack_token",
        label="SLACK_TOKEN",
        description="Slack tokens (xoxb-, xoxp-, xapp-, …) and incoming-webhook URLs.",
        pattern=(
            r"[xh](?<![A-Za-z0-9-].)(?:(?<=x)ox[abposr]-[A-Za-z0-9-]{10,250}"
            r"|(?<=x)app-\d-[A-Za-z0-9-]{10,250}"
            r"|(?<=h)ttps://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{20,200})"
        ),
        prefilters=(
            P(rb"xox[abposr]-[A-Za-z0-9-]{10}"),
            P(rb"xapp-[0-9]-[A-Za-z0-9-]{10}"),
            P(rb"hooks\.slack\.com/(?:services|workflows|triggers)/"),
        ),
        examples=Examples(
            positive=(
                "SLACK_BOT_TOKEN=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
                "post to https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX",
            ),
            negative=("xoxb-short", "https://slack.com/help"),
        ),
    ),
    DetectorSpec(
        id="stripe_key",
        label="STRIPE_KEY",
        description="Stripe secret and restricted keys, webhook secrets.",
        pattern=(
            r"[srw](?<![A-Za-z0-9_].)(?:(?<=[sr])k_(?:live|test)_[A-Za-z0-9]{16,247}"
            r"|(?<=w)hsec_[A-Za-z0-9]{24,128})(?![A-Za-z0-9])"
        ),
        prefilters=(P(rb"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16}"), P(rb"whsec_[A-Za-z0-9]{24}")),
        examples=Examples(
            positive=("stripe.api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'",),
            negative=("pk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_short"),
        ),
    ),
    DetectorSpec(
        id="google_api_key",
        label="GOOGLE_KEY",
        description="Google API keys (AIza…), OAuth client secrets, OAuth access tokens.",
        pattern=(
            r"[AGy](?<![A-Za-z0-9_-].)(?:(?<=A)Iza[0-9A-Za-z_-]{35}|(?<=G)OCSPX-[A-Za-z0-9_-]{28}"
            r"|(?<=y)a29\.[0-9A-Za-z_-]{20,2048})(?![A-Za-z0-9_-])"
        ),
        prefilters=(
            P(rb"AIza[0-9A-Za-z_-]{35}"),
            P(rb"GOCSPX-[A-Za-z0-9_-]{28}"),
            P(rb"ya29\.[0-9A-Za-z_-]{20}"),
        ),
        examples=Examples(
            positive=("key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe&q=x",),
            negative=("AIzaShort", "AIza is the prefix"),
        ),
    ),
    DetectorSpec(
        id="openai_api_key",
        label="OPENAI_KEY",
        description="OpenAI API keys (sk-…, sk-proj-…, sk-svcacct-…).",
        pattern=(
            r"s(?<![A-Za-z0-9_-].)k-(?!ant-)(?:(?:proj|svcacct|admin|None)-)?[A-Za-z0-9_-]{20,200}"
            r"(?![A-Za-z0-9_-])"
        ),
        prefilters=(P(rb"sk-[A-Za-z0-9_-]{20}"),),
        validators=(("match", "mixed_case_key"),),
        examples=Examples(
            positive=("OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLmN2pQrS5tUvW8xYz1Bc4",),
            negative=("sk-learn-compatible-estimator-wrapper", "sk-ant-api03-abc"),
        ),
    ),
    DetectorSpec(
        id="anthropic_api_key",
        label="ANTHROPIC_KEY",
        description="Anthropic API keys (sk-ant-api03-…, sk-ant-admin01-…).",
        pattern=(
            r"s(?<![A-Za-z0-9_-].)k-ant-(?:api|admin|oat|sid)\d{2}-[A-Za-z0-9_-]{20,200}"
            r"(?![A-Za-z0-9_-])"
        ),
        prefilters=(P(rb"sk-ant-(?:api|admin|oat|sid)[0-9]{2}-[A-Za-z0-9_-]{20}"),),
        examples=Examples(
            positive=("x-api-key: sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEf",),
            negative=("sk-ant-api03-short", "sk-ant- prefix"),
        ),
    ),
    DetectorSpec(
        id="jwt",
        label="JWT",
        description="JSON Web Tokens (header.payload.signature, header with 'alg').",
        pattern=(
            r"e(?<![A-Za-z0-9_-].)yJ[A-Za-z0-9_-]{5,4096}\.eyJ[A-Za-z0-9_-]{5,8192}\."
            r"[A-Za-z0-9_-]{0,4096}(?![A-Za-z0-9_-])"
        ),
        prefilters=(P(rb"eyJ[A-Za-z0-9_-]{5,4096}\.eyJ"),),
        validators=(("match", "jwt"),),
        examples=Examples(
            positive=(
                "Authorization: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkw"
                "IiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
            ),
            negative=("eyJub3QiOiJqd3QifQ", "eyJhIjoxfQ.eyJiIjoyfQ.sig"),
        ),
    ),
    DetectorSpec(
        id="private_key",
        label="PRIVATE_KEY",
        description="PEM private keys (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP).",
        pattern=(
            r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
            rf"(?:[\s\S]{{0,{PEM_MAX_CHARS}}}?"
            r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
            rf"|[A-Za-z0-9+/=\s\\:,.-]{{0,{PEM_MAX_CHARS}}})"
        ),
        prefilters=(P(rb"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY"),),
        multiline=True,
        examples=Examples(
            positive=(
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/yg\n"
                "-----END RSA PRIVATE KEY-----",
                "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n",
            ),
            negative=(
                "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZI\n-----END PUBLIC KEY-----",
            ),
        ),
    ),
    DetectorSpec(
        id="bearer_token",
        label="BEARER_TOKEN",
        description="Authorization header credentials: 'Bearer …', 'Authorization: Basic …'.",
        # `(?<![A-Za-z0-9])(?i:bearer)…|(?i:authorization)…`, led by the
        # first letter of either (see `_LEAD` in library_pii).
        pattern=(
            r"[abAB](?:(?<=[bB])(?<![A-Za-z0-9].)(?i:earer)[ \t]+"
            r"(?P<value>[A-Za-z0-9._~+/-]{16,4096}=*)"
            r"|(?<=[aA])(?i:uthorization)" + _ASSIGN + r"(?:\\{0,7}[\"'])?"
            r"(?i:basic|digest|token)[ \t]+(?P<value2>[A-Za-z0-9+/=._~-]{8,4096}))"
        ),
        prefilters=(
            P(rb"(?i)bearer(?:[ \t]|\\t)+[A-Za-z0-9._~+/-]{16}"),
            P(
                rb"(?i)authorization"
                + _RAW_ASSIGN
                + rb"(?:[ \t]|\\t)*(?:\\?[\"'])?(?:basic|digest|token)"
            ),
        ),
        json_key=r"^(?:proxy-)?authorization$",
        json_key_prefilter=rb"(?i)\"(?:proxy-)?authorization\"[ \t\r\n]*:",
        validators=(("value", "not_placeholder"), ("value2", "not_placeholder")),
        examples=Examples(
            positive=(
                "Authorization: Bearer abcdef0123456789ABCDEF.xyz",
                "curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='",
            ),
            negative=("a bearer token is required", "the basic idea"),
        ),
    ),
    DetectorSpec(
        id="url_password",
        label="URL_PASSWORD",
        description="Passwords in URLs: scheme://user:password@host.",
        pattern=(
            r"(?i)\b[a-z][a-z0-9+.-]{1,31}://[^\s:/?#@\"'\\<>]{0,128}:"
            r"(?P<value>[^\s/?#@\"'\\<>]{1,256})@(?=[A-Za-z0-9\[])"
        ),
        prefilters=(P(rb"://[^\s:/?#@\"'\\<>]{0,128}:[^\s/?#@\"'\\<>]{1,256}@[A-Za-z0-9\[]"),),
        validators=(("value", "not_placeholder"),),
        examples=Examples(
            positive=(
                "postgres://app:s3cr3t-Pw@db.internal:5432/app",
                "redis://:hunter22@cache:6379",
            ),
            negative=("https://example.com/path", "postgres://app:${DB_PASSWORD}@db/app"),
        ),
    ),
    DetectorSpec(
        id="secret_assignment",
        label="SECRET",
        description="Values assigned to secret-looking names (key=value, key: value, JSON).",
        pattern=(
            # No name prefix (the value is what is masked). Led by the first
            # letter of a name, which the regex engine skips ahead to.
            r"[acepstACEPST](?i:"
            + _KEY_NAME_WORDS_LED
            + r")(?![A-Za-z0-9])"
            + _ASSIGN
            + r"(?:(?P<q>\\{0,7}[\"'])(?P<value>[^\"'\\\r\n]{1,256})"
            r"|(?P<value2>[^\s\"'\\,;&<>(){}\[\]`]{1,256}))"
        ),
        prefilters=(P(rb"(?i)(?:" + _KEY_NAME_WORDS.encode() + rb")" + _RAW_ASSIGN),),
        json_key=r"(?:" + _KEY_NAME_WORDS + r")$",
        json_key_prefilter=(
            rb"(?i)\"[A-Za-z0-9_.-]*(?:" + _KEY_NAME_WORDS.encode() + rb")\"[ \t\r\n]*:"
        ),
        validators=(("value", "secret_value"), ("value2", "bare_secret_value")),
        examples=Examples(
            positive=(
                "DB_PASSWORD=hunter2!",
                'config: {"api_key": "a8f5f167f44f4964e6c998dee827110c"}',
                "client_secret: 'Zq8-ffT.0c~Kx'",
                "export GITEA_TOKEN=4b9c2d1e0f",
            ),
            negative=(
                "max_tokens: 1024",
                "password: required",
                "password = os.environ['DB_PASSWORD']",
                'password: "********"',
            ),
        ),
    ),
)
