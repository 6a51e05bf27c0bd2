"""Synthetic reasoning traces in the shapes real tools write, with labels.

Record shapes: OpenTelemetry GenAI spans (`gen_ai.input.messages` with
`parts` of text / tool_call / tool_call_response / reasoning), Langfuse
observations and LangSmith runs. Sensitive values (labelled with their kind)
sit in prose, tool arguments, tool results, SQL, stack traces, URLs, headers
and env dumps; a false-positive set (UUIDs, hashes, timestamps, versions,
order numbers, base64 blobs, …) sits everywhere and must survive masking.

Deterministic for a seed. `Corpus.lines()` streams; `generate()` collects.
A *dense* corpus (`min_values=5`, every record carrying at least five
labelled values: the shape of support-bot and tool-call traces) is what the
engine benchmark's worst case is measured on; `min_values=0` (the default)
gives exactly the corpus the tests were written against.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from s3gate.transform.validators import IBAN_LENGTHS

WORDS = [
    "the",
    "a",
    "to",
    "of",
    "and",
    "model",
    "user",
    "tool",
    "call",
    "result",
    "search",
    "query",
    "answer",
    "check",
    "order",
    "account",
    "refund",
    "policy",
    "plan",
    "step",
    "next",
    "reason",
    "because",
    "should",
    "will",
    "we",
    "need",
    "first",
    "then",
    "verify",
    "customer",
    "ticket",
    "status",
    "shipping",
    "invoice",
    "update",
    "database",
    "request",
    "response",
    "error",
    "retry",
    "summary",
    "context",
    "document",
    "page",
    "section",
    "note",
    "follow",
    "contact",
    "email",
    "phone",
    "address",
    "support",
    "agent",
    "run",
    "trace",
    "span",
    "latency",
    "token",
    "budget",
    "cache",
    "hit",
    "miss",
    "timeout",
    "config",
    "deploy",
    "service",
]
FIRST = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
]
LAST = [
    "smith",
    "jones",
    "garcia",
    "miller",
    "davis",
    "lopez",
    "wilson",
    "moore",
    "taylor",
    "thomas",
    "white",
    "martin",
]
DOMAINS = ("example.com", "corp.example.org", "mail.example.net", "acme.io")
B64 = string.ascii_letters + string.digits
KINDS_WRITE_DEFAULT = frozenset(
    [
        "email",
        "phone",
        "card",
        "ssn",
        "iban",
        "aws_key_id",
        "aws_secret",
        "github",
        "gitlab",
        "slack",
        "stripe",
        "google",
        "openai",
        "anthropic",
        "jwt",
        "pem",
        "bearer",
        "url_password",
        "secret",
    ]
)


@dataclass
class Labels:
    secrets: list[tuple[str, str]] = field(default_factory=list)  # (kind, value)
    benign: list[str] = field(default_factory=list)


class Gen:
    """Values: sensitive ones are recorded in `labels`, benign ones too."""

    def __init__(self, seed: int, labels: Labels) -> None:
        self.r = random.Random(seed)
        self.labels = labels
        # Dense mode: the first text of a record gathers snippets until the
        # record holds this many labelled values (see `_text`).
        self.record_need = 0

    def _s(self, kind: str, value: str) -> str:
        self.labels.secrets.append((kind, value))
        return value

    def _b(self, value: str) -> str:
        self.labels.benign.append(value)
        return value

    def rand(self, alphabet: str, n: int) -> str:
        return "".join(self.r.choice(alphabet) for _ in range(n))

    # -- sensitive --------------------------------------------------------
    def email(self) -> str:
        r = self.r
        local = f"{r.choice(FIRST)}.{r.choice(LAST)}{r.randint(1, 999)}"
        return self._s("email", f"{local}@{r.choice(DOMAINS)}")

    def phone(self) -> str:
        r = self.r

        def n(k: int) -> str:
            return "".join(str(r.randint(0, 9)) for _ in range(k))

        fmt = r.randrange(5)
        value = [
            f"+1 {r.randint(201, 989)} {r.randint(201, 989)} {n(4)}",
            f"({r.randint(201, 989)}) {r.randint(201, 989)}-{n(4)}",
            f"+44 20 {n(4)} {n(4)}",
            f"0{r.randint(1, 7)} {n(2)} {n(2)} {n(2)} {n(2)}",
            f"+49 30 {n(7)}",
        ][fmt]
        return self._s("phone", value)

    def card(self) -> str:
        r = self.r
        prefix = r.choice(["4", "51", "55", "37", "6011"])
        length = 15 if prefix == "37" else 16
        body = prefix + "".join(str(r.randint(0, 9)) for _ in range(length - len(prefix) - 1))
        digits = body + str(_luhn_digit(body))
        if length == 16 and r.random() < 0.5:
            digits = " ".join(digits[i : i + 4] for i in range(0, 16, 4))
        return self._s("card", digits)

    def ssn(self) -> str:
        r = self.r
        return self._s("ssn", f"{r.randint(100, 665)}-{r.randint(10, 99)}-{r.randint(1000, 9999)}")

    def iban(self) -> str:
        r = self.r
        country = r.choice(["DE", "GB", "FR", "NL"])
        length = IBAN_LENGTHS[country]
        if country in ("GB", "NL"):
            bban = self.rand(string.ascii_uppercase, 4) + self.rand(string.digits, length - 8)
        else:
            bban = self.rand(string.digits, length - 4)
        numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
        check = 98 - int(numeric) % 97
        return self._s("iban", f"{country}{check:02d}{bban}")

    def aws_key_id(self) -> str:
        return self._s("aws_key_id", "AKIA" + self.rand(string.ascii_uppercase + "234567", 16))

    def aws_secret(self) -> str:
        value = self.rand(B64, 18) + "/" + self.rand(B64, 12) + "+" + self.rand(B64, 8)
        return self._s("aws_secret", value[:40])

    def api_key(self) -> str:
        kind = self.r.choice(
            ["github", "gitlab", "slack", "stripe", "google", "openai", "anthropic"]
        )
        value = {
            "github": lambda: "ghp_" + self.rand(B64, 36),
            "gitlab": lambda: "glpat-" + self.rand(B64, 20),
            "slack": lambda: f"xoxb-{self.rand(string.digits, 12)}-{self.rand(B64, 24)}",
            "stripe": lambda: "sk_live_" + self.rand(B64, 24),
            "google": lambda: "AIza" + self.rand(B64, 35),
            "openai": lambda: "sk-proj-" + self.rand(B64, 20) + "A1b" + self.rand(B64, 20),
            "anthropic": lambda: "sk-ant-api03-" + self.rand(B64 + "_-", 80) + "AA",
        }[kind]()
        return self._s(kind, value)

    def jwt(self) -> str:
        head = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": self.rand(B64, 8)}))
        body = _b64url(json.dumps({"sub": str(self.r.randint(1, 10**6)), "exp": 1714567890}))
        return self._s("jwt", f"{head}.{body}.{self.rand(B64 + '_-', 43)}")

    def pem(self) -> str:
        lines = [self.rand(B64 + "+/", 64) for _ in range(self.r.randint(4, 12))]
        body = "\n".join(lines)
        return self._s(
            "pem", f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
        )

    def password(self) -> str:
        return self._s(
            "secret", self.rand(B64, 10) + self.r.choice("!#%") + str(self.r.randint(10, 99))
        )

    def url_password(self) -> str:
        pw = self.rand(B64, 12) + "9"
        self.labels.secrets.append(("url_password", pw))
        return f"postgres://svc_app:{pw}@db-{self.r.randint(1, 9)}.internal:5432/orders"

    def bearer(self) -> str:
        return self._s("bearer", self.rand(B64, 32) + "." + self.rand(B64, 12))

    # -- benign ---------------------------------------------------------------
    def uuid(self) -> str:
        return self._b(str(uuid.UUID(int=self.r.getrandbits(128), version=4)))

    def hexid(self, n: int) -> str:
        return self._b(self.rand("0123456789abcdef", n))

    def sha(self) -> str:
        return self._b(hashlib.sha256(self.rand(B64, 12).encode()).hexdigest())

    def iso(self) -> str:
        r = self.r
        return self._b(
            f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:"
            f"{r.randint(0, 59):02d}:{r.randint(0, 59):02d}.{r.randint(0, 999999):06d}Z"
        )

    def version(self) -> str:
        r = self.r
        return self._b(
            f"{r.choice(['v', ''])}{r.randint(0, 4)}.{r.randint(0, 40)}.{r.randint(0, 20)}"
        )

    def order(self) -> str:
        r = self.r
        return self._b(
            r.choice([f"ORD-2024-{r.randint(0, 999999):06d}", f"#{r.randint(10**5, 10**7)}"])
        )

    def blob(self) -> str:
        raw = bytes(self.r.getrandbits(8) for _ in range(self.r.randint(48, 600)))
        return self._b(base64.b64encode(raw).decode())

    def prose(self, n: int) -> str:
        return " ".join(self.r.choice(WORDS) for _ in range(n)).capitalize() + "."


def _luhn_digit(body: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _sensitive_text(g: Gen) -> str:
    """A snippet carrying one or two labelled values, in a realistic context."""
    r = g.r
    choice = r.randrange(12)
    if choice == 0:
        return f"The customer wrote from {g.email()} and asked us to call {g.phone()} about it."
    if choice == 1:
        return f"Payment failed for card {g.card()}; billing IBAN on file is {g.iban()}."
    if choice == 2:
        return f"Verified identity with SSN {g.ssn()} before unlocking the account."
    if choice == 3:
        return (
            'Traceback (most recent call last):\n  File "/srv/app/db.py", line 88, in connect\n'
            f"psycopg2.OperationalError: could not connect to {g.url_password()}"
        )
    if choice == 4:
        return (
            f"env dump: AWS_ACCESS_KEY_ID={g.aws_key_id()}\naws_secret_access_key={g.aws_secret()}"
        )
    if choice == 5:
        return f"curl -H 'Authorization: Bearer {g.bearer()}' https://api.example.com/v1/orders"
    if choice == 6:
        return f"export OPENAI_API_KEY={g.api_key()} and retry the {g.prose(3)}"
    if choice == 7:
        return f"SELECT * FROM users WHERE email = '{g.email()}' AND phone = '{g.phone()}';"  # noqa: S608
    if choice == 8:
        return f"the session token was {g.jwt()} which expired"
    if choice == 9:
        return f"found a key in the repo:\n{g.pem()}\nrotating it now"
    if choice == 10:
        return f"config: DB_PASSWORD={g.password()} (from the .env file)"
    return f"INSERT INTO payments (card, ssn) VALUES ('{g.card()}', '{g.ssn()}');"  # noqa: S608


def _benign(g: Gen) -> dict[str, object]:
    return {
        "request_id": g.uuid(),
        "commit": g.hexid(40),
        "started": g.iso(),
        "sdk_version": g.version(),
        "order": g.order(),
    }


def _text(g: Gen, pii: bool, words: int) -> str:
    parts = [g.prose(words)]
    if pii:
        parts.append(_sensitive_text(g))
        parts.append(g.prose(words // 3))
    while len(g.labels.secrets) < g.record_need:
        # Dense mode: short prose between further values (tool-call traces).
        parts.append(_sensitive_text(g))
        parts.append(g.prose(words // 6))
    g.record_need = 0
    return " ".join(parts)


def otel_span(g: Gen, pii: bool) -> dict[str, object]:
    call_id = "call_" + g.rand(B64, 24)
    args: dict[str, object] = {"query": g.prose(6), "order_id": g.order()}
    if pii and g.r.random() < 0.5:
        args.update(
            {"customer_email": g.email(), "headers": {"Authorization": f"Bearer {g.bearer()}"}}
        )
    start = g.r.randint(1_700_000_000, 1_720_000_000) * 10**9 + g.r.randint(0, 10**9 - 1)
    return {
        "traceId": g.hexid(32),
        "spanId": g.hexid(16),
        "name": "chat gpt-4o",
        "startTimeUnixNano": start,
        "endTimeUnixNano": start + g.r.randint(10**8, 10**10),
        "attributes": {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": g.r.randint(100, 9000),
            "gen_ai.usage.output_tokens": g.r.randint(10, 2000),
            "gen_ai.input.messages": [
                {"role": "user", "parts": [{"type": "text", "content": _text(g, pii, 60)}]},
                {
                    "role": "assistant",
                    "parts": [
                        {"type": "reasoning", "content": g.prose(120)},
                        {"type": "tool_call", "id": call_id, "name": "lookup", "arguments": args},
                    ],
                },
                {
                    "role": "tool",
                    "parts": [
                        {
                            "type": "tool_call_response",
                            "id": call_id,
                            "response": json.dumps({"rows": g.r.randint(0, 9), "blob": g.blob()}),
                        }
                    ],
                },
            ],
            "gen_ai.output.messages": [
                {"role": "assistant", "parts": [{"type": "text", "content": g.prose(80)}]}
            ],
        },
        "resource": {"service.name": "support-agent", "service.version": g.version()},
    }


def langfuse_observation(g: Gen, pii: bool) -> dict[str, object]:
    return {
        "id": g.uuid(),
        "traceId": g.uuid(),
        "type": "GENERATION",
        "name": "answer",
        "startTime": g.iso(),
        "endTime": g.iso(),
        "model": "claude-3-5-sonnet-20241022",
        "modelParameters": {"temperature": 0.2, "max_tokens": 1024},
        "input": [
            {"role": "system", "content": g.prose(40)},
            {"role": "user", "content": _text(g, pii, 50)},
        ],
        "output": {"role": "assistant", "content": g.prose(90)},
        "usage": {"input": g.r.randint(10, 5000), "output": g.r.randint(10, 900), "unit": "TOKENS"},
        "metadata": _benign(g),
        "level": "DEFAULT",
    }


def langsmith_run(g: Gen, pii: bool) -> dict[str, object]:
    run_id = g.uuid()
    error = None
    outputs: dict[str, object] = {"output": g.prose(70)}
    if pii and g.r.random() < 0.4:
        error = _sensitive_text(g)
        if g.record_need:  # dense mode: the output carries the rest
            outputs["output"] = _text(g, True, 50)
    elif pii:
        outputs["output"] = _text(g, True, 50)
    return {
        "id": run_id,
        "trace_id": g.uuid(),
        "dotted_order": f"20240501T123456789012Z{run_id}",
        "run_type": g.r.choice(["llm", "tool", "chain"]),
        "name": "ticket_triage",
        "start_time": g.iso(),
        "inputs": {"question": g.prose(30), "attachment": g.blob()},
        "outputs": outputs,
        "error": error,
        "extra": {"metadata": {"ls_provider": "openai", "revision_id": g.version(), **_benign(g)}},
        "tags": ["prod", "triage"],
    }


SHAPES = (otel_span, langfuse_observation, langsmith_run)


@dataclass
class Corpus:
    seed: int = 7
    pii_rate: float = 0.1  # fraction of records carrying labelled values
    labels: Labels = field(default_factory=Labels)
    # Dense mode: every record carries at least this many labelled values
    # (pii_rate is then ignored: every record carries some).
    min_values: int = 0

    def lines(self, count: int | None = None) -> Iterator[bytes]:
        """JSONL lines (with "\\n"); endless when count is None."""
        g = Gen(self.seed, self.labels)
        i = 0
        while count is None or i < count:
            shape = SHAPES[i % len(SHAPES)]
            pii = g.r.random() < self.pii_rate
            if self.min_values:
                pii = True
                g.record_need = len(g.labels.secrets) + self.min_values
            record = shape(g, pii)
            yield json.dumps(record).encode() + b"\n"
            i += 1


def generate(
    count: int, seed: int = 7, pii_rate: float = 0.1, *, min_values: int = 0
) -> tuple[bytes, Labels]:
    corpus = Corpus(seed, pii_rate, min_values=min_values)
    data = b"".join(corpus.lines(count))
    return data, corpus.labels


def json_forms(value: str) -> tuple[str, ...]:
    """How a value can appear in JSON output: as is and JSON-escaped (twice,
    for JSON held in a JSON string)."""
    once = json.dumps(value)[1:-1]
    twice = json.dumps(once)[1:-1]
    return tuple({value, once, twice})
