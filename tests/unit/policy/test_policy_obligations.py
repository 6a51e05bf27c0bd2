"""Obligations: annotations on the determining permits, and how they merge."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from s3gate.policy import decision as dec
from s3gate.policy import obligations as obl
from s3gate.policy.cedar import Bundle
from s3gate.policy.model import AccessRequest, Resource
from s3gate.policy.obligations import Obligations
from s3gate.policy.source import BundleError
from tests.unit.policy.helpers import ctx, session

FILES = {
    # File order is bundle order: a.cedar's policies come first.
    "access/b.cedar": """
@id("b.analyst-mask") @mask("analyst-view")
permit (principal in Group::"analysts", action in Action::"read", resource);

@id("b.raw-with-approval") @approval("security")
permit (principal in Group::"breakglass", action in Action::"read", resource);

@id("b.second-approval") @approval("legal") @mask("analyst-view")
permit (principal in Group::"legal", action in Action::"read", resource);

@id("b.no-obligation")
permit (principal in Group::"plain", action in Action::"read", resource);

@id("b.forbid-secret")
forbid (principal, action, resource) when { resource has dir1 && resource.dir1 == "secret" };
""",
    "access/a.cedar": """
@id("a.pii-mask") @mask("pii-strict")
permit (principal in Group::"pii", action in Action::"read", resource);
""",
}


def _decide(bundle: Bundle, *groups: str, key: str = "x/y") -> dec.Decision:
    request = AccessRequest(
        session("u", groups=groups), "GetObject", Resource.object("traces", key), ctx()
    )
    return bundle.decide(request)


@pytest.fixture
def bundle(make_bundle: Callable[..., Bundle]) -> Bundle:
    return make_bundle(FILES)


@pytest.mark.parametrize(
    ("groups", "policies", "masks", "approvals"),
    [
        (("analysts",), ("b.analyst-mask",), ("analyst-view",), ()),
        (("breakglass",), ("b.raw-with-approval",), (), ("security",)),
        (("plain",), ("b.no-obligation",), (), ()),
        # Every mask of every determining permit applies, in bundle order:
        (("analysts", "pii"), ("a.pii-mask", "b.analyst-mask"), ("pii-strict", "analyst-view"), ()),
        # … and so does every approval; a permit without obligations removes none.
        (
            ("analysts", "breakglass", "legal", "plain"),
            ("b.analyst-mask", "b.raw-with-approval", "b.second-approval", "b.no-obligation"),
            ("analyst-view",),  # repeated profile listed once
            ("security", "legal"),
        ),
    ],
)
def test_merge_rule(
    bundle: Bundle,
    groups: tuple[str, ...],
    policies: tuple[str, ...],
    masks: tuple[str, ...],
    approvals: tuple[str, ...],
) -> None:
    decision = _decide(bundle, *groups)
    assert decision.allowed
    assert decision.policies == policies
    assert decision.obligations == Obligations(masks, approvals)


def test_a_denial_carries_no_obligations(bundle: Bundle) -> None:
    decision = _decide(bundle, "analysts", "breakglass", key="secret/y")
    assert not decision.allowed
    assert decision.policies == ("b.forbid-secret",)
    assert decision.obligations == obl.NONE
    default = _decide(bundle, "nobody")
    assert (default.allowed, default.policies, default.obligations) == (False, (), obl.NONE)


def test_combined_decisions_merge_obligations(bundle: Bundle) -> None:
    read = _decide(bundle, "analysts")
    other = _decide(bundle, "breakglass", "pii")
    both = dec.combine([read, other])
    assert both.allowed
    assert both.obligations == Obligations(("analyst-view", "pii-strict"), ("security",))
    denied = _decide(bundle, "nobody")
    assert dec.combine([read, denied]) is denied
    with pytest.raises(ValueError):
        dec.combine([])


def test_obligations_on_forbid_are_rejected(make_bundle: Callable[..., Bundle]) -> None:
    with pytest.raises(BundleError, match=r"main.cedar:2: x: @mask on a forbid"):
        make_bundle('\n@id("x") @mask("m")\nforbid (principal, action, resource);\n')


@pytest.mark.parametrize("value", ["", "two words", "-leading"])
def test_obligation_names_are_checked(make_bundle: Callable[..., Bundle], value: str) -> None:
    with pytest.raises(BundleError, match="give a name"):
        make_bundle(f'@id("x") @approval("{value}") permit (principal, action, resource);')


def test_obligations_describe() -> None:
    assert Obligations(("a",), ("b",)).describe() == {"masks": ["a"], "approvals": ["b"]}
    assert not Obligations() and Obligations(("a",))
