"""The import graph runs one way: plugin state depends only on the models, the host never
reaches notifications or jobs, and jobs never reach the host (the app wires them together)."""
import subprocess
import sys

import pytest

LOADED_AFTER = '''
import sys
import {module}
print(" ".join(sorted(name for name in sys.modules if name.startswith(("core.", "plugins.")))))
'''


def modules_loaded_by(module: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", LOADED_AFTER.format(module=module)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.mark.parametrize("module, never", [
    ("core.plugins.state", {"core.plugins.host", "core.plugins.services", "core.notifications.services",
                            "core.jobs"}),
    ("core.plugins.host", {"core.plugins.services", "core.notifications.services", "core.jobs"}),
    ("core.jobs", {"core.plugins.host", "core.plugins.services", "core.notifications.services"}),
])
def test_a_module_does_not_import_what_depends_on_it(module, never):
    assert not modules_loaded_by(module) & never


def test_plugin_state_depends_only_on_the_models_and_the_database():
    loaded = modules_loaded_by("core.plugins.state")
    assert loaded <= {"core.plugins", "core.plugins.state", "core.plugins.models", "core.database",
                      "core.extensions", "core.version"}, loaded


def test_no_function_level_imports_hold_a_cycle_together():
    import inspect

    from core import jobs
    from core.plugins import host

    assert "core.plugins" not in inspect.getsource(jobs)
    source = inspect.getsource(host)
    assert "core.plugins.services" not in source and "core.notifications" not in source
