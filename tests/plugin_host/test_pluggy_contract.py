"""The host keeps pluggy's contract: wrappers are refused, ``firstresult`` means first result,
pluggy's call order and argument passing hold, and a caller's mistake is not a plugin's failure."""
import pytest

from core.plugins import PluginInfo, hookimpl

from hostkit import patch_plugin, plugin, register, send




class WrapsReplies:
    """A new-style wrapper: under pluggy it would see (and could replace) every plugin's reply."""

    PLUGIN = PluginInfo(id="wraps_replies", name="Wraps replies")

    @hookimpl(wrapper=True)
    def memberday_keyword_reply(self, text):
        answer = yield
        return f"wrapped: {answer}"


class OldStyleWrapper:
    PLUGIN = PluginInfo(id="old_style_wrapper", name="Old-style wrapper")

    @hookimpl(hookwrapper=True)
    def memberday_member_page_sections(self, member):
        yield


class Answers:
    """Answers one keyword, remembering each time it was asked."""

    def __init__(self, plugin_id, keyword, reply, **impl_options):
        self.PLUGIN = PluginInfo(id=plugin_id, name=plugin_id)
        self.keyword, self.reply, self.asked = keyword, reply, []

        @hookimpl(**impl_options)
        def memberday_keyword_reply(text):
            self.asked.append(text)
            return self.reply if text == self.keyword else None

        self.memberday_keyword_reply = memberday_keyword_reply


def test_a_wrapper_hookimpl_is_refused_at_registration_and_never_reaches_a_reply(
        memberday_app, memberday_client, operator_token):
    host = memberday_app.extensions["memberday_plugins"]
    with memberday_app.app_context():
        wrapper = host.add(WrapsReplies())
        old_style = host.add(OldStyleWrapper())
    assert wrapper.status == "refused" and old_style.status == "refused"
    assert "memberday_keyword_reply (wrapper=True)" in wrapper.error
    assert "memberday_member_page_sections (hookwrapper=True)" in old_style.error

    listed = plugin(memberday_client, operator_token, "wraps_replies")
    assert listed["status"] == "refused" and listed["enabled"] is False
    assert "hook wrappers are not supported" in listed["error"]
    refused = patch_plugin(memberday_client, operator_token, "wraps_replies", enabled=True)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "plugin_unusable"

    register(memberday_app, Answers("answers", "hi", "hello"))
    assert send(memberday_client, operator_token, "hi", "m-1") == "hello"
    assert send(memberday_client, operator_token, "other", "m-2") is None


def test_firstresult_stops_at_the_first_answer_in_pluggys_order(memberday_app, memberday_client,
                                                               operator_token):
    first_registered = Answers("early", "hi", "from early")
    last_registered = Answers("late", "hi", "from late")
    register(memberday_app, first_registered, last_registered)

    # pluggy calls the last registered first, and calls nobody after an answer.
    assert send(memberday_client, operator_token, "hi", "m-1") == "from late"
    assert last_registered.asked == ["hi"] and first_registered.asked == []

    # A plugin that passes (None) lets the next one answer.
    assert send(memberday_client, operator_token, "bye", "m-2") is None
    assert last_registered.asked == ["hi", "bye"] and first_registered.asked == ["bye"]


def test_tryfirst_and_trylast_order_the_plugins_as_in_pluggy(memberday_app, memberday_client, operator_token):
    eager = Answers("eager", "hi", "from eager", tryfirst=True)
    shy = Answers("shy", "hi", "from shy", trylast=True)
    plain = Answers("plain", "hi", "from plain")
    register(memberday_app, eager, plain, shy)
    assert send(memberday_client, operator_token, "hi", "m-1") == "from eager"
    assert plain.asked == [] and shy.asked == []

    patch_plugin(memberday_client, operator_token, "eager", enabled=False)
    assert send(memberday_client, operator_token, "hi", "m-2") == "from plain"
    assert shy.asked == []


def test_the_host_refuses_to_call_a_hook_against_its_firstresult_spec(memberday_app):
    host = memberday_app.extensions["memberday_plugins"]
    with memberday_app.app_context():
        with pytest.raises(TypeError, match="is a firstresult hook"):
            host.call_each("memberday_keyword_reply", member=None, text="hi", channel="sms", sender="x")
        with pytest.raises(TypeError, match="is not a firstresult hook"):
            host.first_result("memberday_member_page_sections", member=None)


def test_a_missing_argument_is_the_callers_error_not_a_plugin_failure(memberday_app, memberday_client,
                                                                      operator_token):
    register(memberday_app, Answers("answers", "hi", "hello"))
    host = memberday_app.extensions["memberday_plugins"]
    with memberday_app.app_context():
        with pytest.raises(TypeError, match="needs the argument"):
            host.first_result("memberday_keyword_reply", text="hi")
    state = plugin(memberday_client, operator_token, "answers")
    assert state["enabled"] is True and state["failures_total"] == 0


def test_pluggy_passes_a_plugin_only_the_arguments_it_names(memberday_app, memberday_client, operator_token):
    seen = []

    class Picky:
        PLUGIN = PluginInfo(id="picky", name="Picky")

        @hookimpl(specname="memberday_keyword_reply")
        def reply_to_channel(self, channel):
            seen.append(channel)
            return f"on {channel}"

    register(memberday_app, Picky())
    assert send(memberday_client, operator_token, "anything", "m-1") == "on sms"
    assert seen == ["sms"]
