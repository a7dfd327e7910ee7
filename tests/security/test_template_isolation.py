"""Templates cannot change shared state: one recipient's render never reaches another's message,
and what a template does to its own context stays in that render."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration.campaigns import EmailRecipient, Template
from orchestration.campaigns.errors import TemplateRenderingError
from orchestration.campaigns.templates import TemplateSettings

PEOPLE = [
    EmailRecipient(f"u{i}", f"p{i}@example.com", {"first_name": f"Person{i}"}) for i in range(5)
]


def _render_all(template: Template, settings: TemplateSettings) -> list[str | Exception]:
    out: list[str | Exception] = []
    for person in PEOPLE:
        try:
            out.append(template.render(person, settings).subject)
        except TemplateRenderingError as exc:
            out.append(exc)
    return out


@pytest.mark.parametrize(
    "subject",
    [
        "Hi {{ settings.get('name', 'friend') }}"
        "{% set _ = settings.update({'name': user.first_name}) %}",
        "Hi {{ settings.get('name', 'friend') }}{{ settings.update({'name': user.first_name}) }}",
        "Hi {{ settings.get('name', 'friend') }}{{ settings.__setitem__('name', user.first_name) }}",
        "Hi {{ settings.get('name', 'friend') }}{{ settings.setdefault('name', user.first_name) }}",
        "Hi {{ settings.seen | join(',') }}{{ settings.seen.append(user.first_name) }}",
        "Hi {{ settings.seen | join(',') }}{{ settings.seen.extend([user.first_name]) }}",
        "Hi {{ settings.tags | join(',') }}{{ settings.tags.add(user.first_name) }}",
        "Hi {{ settings.nested.who }}{{ settings.nested.update({'who': user.first_name}) }}",
    ],
)
def test_a_template_cannot_modify_the_settings_every_recipient_shares(subject: str) -> None:
    template = Template(name="leaky", subject=subject, html="<p>x</p>")
    settings = template.validate_settings({"seen": [], "tags": set(), "nested": {"who": "nobody"}})
    results = _render_all(template, settings)
    # Every render is refused by the sandbox; none sees another recipient's name.
    assert all(isinstance(r, TemplateRenderingError) for r in results), results
    assert all("unsafe" in str(r) or "SecurityError" in str(r) for r in results)
    assert dict(settings) == {"seen": [], "tags": set(), "nested": {"who": "nobody"}}


def test_a_template_cannot_modify_the_recipient_context() -> None:
    template = Template(
        name="ctx", subject="{{ user.first_name }}{{ user.update({'first_name': 'X'}) }}", html="x"
    )
    person = EmailRecipient("u", "u@example.com", {"first_name": "Ada", "tags": ["a"]})
    with pytest.raises(TemplateRenderingError, match="unsafe"):
        template.render(person, {})
    assert person.user_context == {"first_name": "Ada", "tags": ["a"]}


class _MemoTemplate(Template):
    """Python code of a campaign author that writes into the settings it is given."""

    def get_template_data(
        self, recipient: EmailRecipient, settings: TemplateSettings
    ) -> dict[str, Any]:
        settings.setdefault("greeted", recipient.user_context["first_name"])
        settings["history"].append(recipient.user_context["first_name"])
        return {"greeted": settings["greeted"], "count": len(settings["history"])}


def test_each_recipient_renders_from_a_fresh_copy_of_the_settings() -> None:
    template = _MemoTemplate(name="memo", subject="Hi {{ greeted }} #{{ count }}", html="x")
    settings = template.validate_settings({"history": []})
    assert _render_all(template, settings) == [f"Hi Person{i} #1" for i in range(5)]
    assert dict(settings) == {"history": []}


def test_the_immutable_sandbox_still_allows_local_state_through_namespace() -> None:
    template = Template(
        name="ns",
        subject="{% set ns = namespace(n=0) %}{% for x in settings.numbers %}"
        "{% set ns.n = ns.n + x %}{% endfor %}{{ user.first_name }} {{ ns.n }}",
        html="x",
    )
    settings = template.validate_settings({"numbers": [1, 2, 3]})
    assert _render_all(template, settings) == [f"Person{i} 6" for i in range(5)]


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("{{ 100 // user.n }}", "ZeroDivisionError"),
        ("{{ 100 // user.s }}", "TypeError"),
        ("{% for i in range(10**7) %}{% endfor %}", "OverflowError"),
        ("{{ user.n.__class__.__mro__ }}", "unsafe"),
    ],
)
def test_any_error_of_one_recipient_is_a_rendering_error(html: str, error: str) -> None:
    template = Template(name="boom", subject="Hi", html=html)
    person = EmailRecipient("u", "u@example.com", {"n": 0, "s": "x"})
    with pytest.raises(TemplateRenderingError, match=error):
        template.render(person, {})
