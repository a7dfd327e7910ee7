"""Templates: sandboxed Jinja2, missing settings as business errors, previews (pure)."""

from __future__ import annotations

import pytest

from orchestration.campaigns import (
    EmailRecipient,
    MessageFrequency,
    Registry,
    Template,
    TemplateRenderingError,
    TemplateSettings,
    TemplateSettingsMissingKeyError,
)
from orchestration.campaigns.errors import NotRegisteredError
from orchestration.campaigns.templates import html_to_text

ADA = EmailRecipient("u1", "Ada@Example.com", {"first_name": "Ada <3"})

TEMPLATE = Template(
    name="welcome",
    subject="Welcome {{ user.first_name }}\r\nBcc: evil@example.com",
    pre_header="{{ settings.tagline }}",
    html=(
        "<html><body><h1>{{ settings.title }}</h1>"
        "{% if settings.promo is defined %}<p>{{ settings.promo }}</p>{% endif %}"
        "<p>{{ settings.footer | default('bye') }}</p>"
        '<a href="https://example.com/go?l={{ email_log_id }}">Go</a></body></html>'
    ),
    required_settings=("title",),
)


def test_campaign_template_renders_every_part_escaping_html_only() -> None:
    content = TEMPLATE.render(ADA, {"title": "<Hi>", "tagline": "News"}, email_log_id="L1")
    assert (
        content.subject == "Welcome Ada <3 Bcc: evil@example.com"
    )  # one line: no header injection
    assert "<h1>&lt;Hi&gt;</h1>" in content.html
    assert content.html.index("News") < content.html.index("<h1>")  # pre-header first, hidden
    assert "<p>bye</p>" in content.html
    assert "https://example.com/go?l=L1" in content.html
    assert "Go (https://example.com/go?l=L1)" in content.text
    assert "<Hi>" in content.text


def test_campaign_template_missing_setting_names_the_key_and_the_template() -> None:
    with pytest.raises(TemplateSettingsMissingKeyError) as caught:
        TEMPLATE.render(ADA, {"title": "x"})  # tagline is used by the pre-header
    assert caught.value.key == "tagline"
    assert caught.value.template_name == "welcome"
    assert "'tagline'" in str(caught.value) and "'welcome'" in str(caught.value)
    with pytest.raises(TemplateSettingsMissingKeyError, match=r"'title'.*'welcome'"):
        TEMPLATE.validate_settings({"tagline": "x"})


def test_campaign_template_settings_dict_access_raises_the_business_error() -> None:
    settings = TemplateSettings({"a": 1}, template_name="t")
    assert settings["a"] == 1 and settings.get("b") is None and "b" not in settings
    with pytest.raises(TemplateSettingsMissingKeyError, match=r"'b'.*'t'"):
        settings["b"]


def test_campaign_template_undefined_user_variable_fails_this_recipient_only() -> None:
    with pytest.raises(TemplateRenderingError, match="first_name"):
        TEMPLATE.render(EmailRecipient("u2", "b@example.com", {}), {"title": "x", "tagline": "y"})


def test_campaign_template_sandbox_blocks_python_internals() -> None:
    evil = Template(name="evil", subject="x", html="{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateRenderingError):
        evil.render(ADA, {})


def test_campaign_html_to_text_keeps_links_and_drops_styles() -> None:
    text = html_to_text("<style>p{}</style><p>Hello&amp;bye</p><a href='x'>no</a><br>end")
    assert text.startswith("Hello&bye\n")
    assert text.rstrip().endswith("end")


def test_campaign_message_frequency_scoping_and_json() -> None:
    scoped = MessageFrequency.scoped_to_campaign("promo", message_limit=2, company_id="42")
    assert scoped.idempotency_key == "campaign_name=promo|company_id=42"
    assert MessageFrequency.from_json(scoped.to_json()) == scoped
    assert MessageFrequency.from_json(None) is None
    with pytest.raises(ValueError):
        MessageFrequency(message_limit=-1)


def test_campaign_registry_lookup_errors_list_what_is_known() -> None:
    registry = Registry()
    registry.register_template(TEMPLATE)
    assert registry.get_template("welcome") is TEMPLATE
    with pytest.raises(NotRegisteredError, match="unknown template 'nope' \\(known: welcome\\)"):
        registry.get_template("nope")
    with pytest.raises(NotRegisteredError, match="unknown segment"):
        registry.get_segment("x")


def test_campaign_registry_keeps_recurring_and_one_off_campaigns_apart() -> None:
    from orchestration.campaigns import Campaign, RecurringCampaign

    registry = Registry()
    one_off = registry.register_non_recurring(Campaign("launch", "welcome", "everyone"))
    weekly = registry.register_recurring(
        RecurringCampaign("weekly", "welcome", "everyone", cron="0 9 * * 1")
    )
    assert registry.list_non_recurring_campaigns() == [one_off]
    assert registry.list_recurring_campaigns() == [weekly]
    assert registry.get_campaign("launch") is one_off
    with pytest.raises(NotRegisteredError):
        registry.get_recurring_campaign("launch")
    with pytest.raises(TypeError):
        registry.register_non_recurring(weekly)
    registry.unregister_recurring("weekly")
    assert not registry.has_recurring_campaign("weekly")


def test_email_content_keeps_what_it_was_rendered_from() -> None:
    class Digest(Template):
        def get_template_data(self, recipient, settings):
            return {"items": [settings["title"], recipient.user_context["first_name"]]}

    digest = Digest(name="digest", subject="{{ items | join(', ') }}", html="<p>{{ items[1] }}</p>")
    settings = {"title": "Week 12"}
    content = digest.render(ADA, settings)
    assert content.subject == "Week 12, Ada <3"
    assert content.template_data == {"items": ["Week 12", "Ada <3"]}
    assert (content.user_context, content.template_settings) == ({"first_name": "Ada <3"}, settings)
    content.user_context["first_name"] = "changed"  # the render's own copy
    assert ADA.user_context == {"first_name": "Ada <3"}
