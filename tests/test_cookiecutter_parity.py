"""Plain ``cookiecutter`` renders the bundled template to the same bytes as ``plscaffold new``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plscaffold.answers import STATE_DIR_RELPATH
from plscaffold.api import new_project, project_options
from plscaffold.templates import bundled_project_template
from tests.conftest import tree_state

# A Jinja extension in a module at the template's root, as `_extensions` can name one.
SHOUT_EXTENSION = (
    "from jinja2.ext import Extension\n\n\n"
    "class ShoutExtension(Extension):\n"
    "    def __init__(self, environment):\n"
    "        super().__init__(environment)\n"
    "        environment.filters['shout'] = lambda value: value.upper() + '!'\n"
)

OPTION_SETS = [
    pytest.param({}, id="defaults"),
    pytest.param({"gpus": 2, "precision": "bf16-mixed"}, id="gpus-2-bf16"),
    pytest.param({"model": "mlp", "logger": "csv", "lr": 0.02, "seed": 7}, id="mlp-csv"),
    pytest.param({"model": "gan", "gpus": 2}, id="gan-gpus-2"),
]


def _cookiecutter(args: list[str], home: Path) -> None:
    cookiecutter = shutil.which("cookiecutter", path=os.path.dirname(sys.executable))
    command = [cookiecutter] if cookiecutter else [sys.executable, "-m", "cookiecutter"]
    # HOME keeps cookiecutter's replay files out of the real home folder.
    env = {**os.environ, "HOME": str(home)}
    subprocess.run([*command, *args], check=True, env=env, capture_output=True)


@pytest.mark.parametrize("given", OPTION_SETS)
def test_cookiecutter_writes_the_same_files(tmp_path: Path, given: dict[str, object]) -> None:
    options = project_options("parity-check", **given)
    new_project(options, output_dir=tmp_path / "ours")
    extra = [f"{key}={value}" for key, value in options.answers().items()]
    template = str(bundled_project_template().root_abspath)

    _cookiecutter([template, "--no-input", "-o", str(tmp_path / "theirs"), *extra], tmp_path)

    ours = tree_state(tmp_path / "ours" / "parity-check")
    theirs = tree_state(tmp_path / "theirs" / "parity-check")
    ours = {k: v for k, v in ours.items() if not k.startswith(STATE_DIR_RELPATH)}
    assert ours == theirs
    assert len(theirs) > 10


def test_copy_without_render_matches_cookiecutter(tmp_path: Path) -> None:
    from tests.conftest import make_template

    workflow = b"on: push\njobs:\n  ci:\n    steps:\n      - run: echo ${{ github.sha }}\n"
    template = make_template(
        tmp_path / "t",
        {
            ".github/workflows/ci.yml": workflow,
            "{{cookiecutter.project_name}}-raw/{{ kept }}.txt": b"{{ raw }}\n",
            "page.html": b"<p>{{ not rendered }}</p>\n",
            "README.md": b"# {{ cookiecutter.project_name }}\n",
        },
        {
            "project_name": "x",
            "_copy_without_render": [".github/*", "*.html", "{{cookiecutter.project_name}}-raw"],
        },
    )
    from plscaffold.api import new_project_from_template

    new_project_from_template(str(template), "proj", tmp_path / "ours")
    _cookiecutter(
        [str(template), "--no-input", "-o", str(tmp_path / "theirs"), "project_name=proj"], tmp_path
    )

    ours = tree_state(tmp_path / "ours" / "proj")
    ours = {k: v for k, v in ours.items() if not k.startswith(STATE_DIR_RELPATH)}
    assert ours == tree_state(tmp_path / "theirs" / "proj")
    project = tmp_path / "ours" / "proj"
    assert (project / ".github" / "workflows" / "ci.yml").read_bytes() == workflow
    assert (project / "proj-raw" / "{{ kept }}.txt").read_bytes() == b"{{ raw }}\n"
    assert (project / "README.md").read_text() == "# proj\n"


def test_a_trusted_template_loads_its_own_extension_module(tmp_path: Path) -> None:
    from plscaffold.api import new_project_from_template
    from tests.conftest import make_template

    template = make_template(
        tmp_path / "t",
        {"a.txt": b"{{ cookiecutter.project_name|shout }}\n"},
        {"project_name": "x", "_extensions": ["local_filters.ShoutExtension"]},
    )
    (template / "local_filters.py").write_text(SHOUT_EXTENSION)

    result = new_project_from_template(str(template), "proj", tmp_path / "out", trust=True)

    assert (result.project_abspath / "a.txt").read_text() == "PROJ!\n"


# cookiecutter's documented layouts for `_extensions`: a module at the template's root (here
# with `simple_filter`, importing a sibling module as the folder is on the import path), and
# a package whose `__init__.py` imports its extension relatively.
EXTENSION_LAYOUTS = {
    "module": (
        "local_extensions.shout",
        {
            "local_extensions.py": "from cookiecutter.utils import simple_filter\n"
            "from local_words import SUFFIX\n\n\n"
            "@simple_filter\ndef shout(value):\n    return value.upper() + SUFFIX\n",
            "local_words.py": "SUFFIX = '!'\n",
        },
    ),
    "package": (
        "local_extensions.ShoutExtension",
        {
            "local_extensions/__init__.py": "from .main import ShoutExtension\n",
            "local_extensions/main.py": "from jinja2.ext import Extension\n\n"
            "from .words import SUFFIX\n\n\n"
            "class ShoutExtension(Extension):\n"
            "    def __init__(self, environment):\n"
            "        super().__init__(environment)\n"
            "        environment.filters['shout'] = lambda value: value.upper() + SUFFIX\n",
            "local_extensions/words.py": "SUFFIX = '!'\n",
        },
    ),
}


@pytest.mark.parametrize("layout", sorted(EXTENSION_LAYOUTS))
def test_a_trusted_templates_extension_module_or_package_renders_as_cookiecutter_renders_it(
    tmp_path: Path, layout: str
) -> None:
    from plscaffold.api import new_project_from_template
    from tests.conftest import make_template

    name, code = EXTENSION_LAYOUTS[layout]
    template = make_template(
        tmp_path / "t",
        {"a.txt": b"{{ cookiecutter.project_name|shout }}\n"},
        {"project_name": "x", "_extensions": [name]},
    )
    for relpath, source in code.items():
        (template / relpath).parent.mkdir(parents=True, exist_ok=True)
        (template / relpath).write_text(source)
    template_before, path_before = tree_state(template), list(sys.path)

    new_project_from_template(str(template), "proj", tmp_path / "ours", trust=True)

    # The import path and the template are as they were: no folder added, no bytecode written.
    assert sys.path == path_before and tree_state(template) == template_before
    assert not [key for key in sys.modules if key.startswith(("local_extensions", "local_words"))]
    _cookiecutter(
        [str(template), "--no-input", "-o", str(tmp_path / "theirs"), "project_name=proj"], tmp_path
    )
    ours = tree_state(tmp_path / "ours" / "proj")
    ours = {k: v for k, v in ours.items() if not k.startswith(STATE_DIR_RELPATH)}
    assert ours == tree_state(tmp_path / "theirs" / "proj")
    assert (tmp_path / "ours" / "proj" / "a.txt").read_text() == "PROJ!\n"


def _feature_template(root: Path, with_code: bool) -> Path:
    """A template using what public templates use: choices, private and computed variables,
    ``{% now %}``, raw blocks; and with ``with_code`` hooks and a local Jinja extension."""
    from tests.conftest import make_template

    files = {
        "README.md": b"# {{ cookiecutter.project_name }} ({{ cookiecutter.license }})\n"
        b"slug: {{ cookiecutter.__slug }}, module: {{ cookiecutter._module }}\n"
        b"year: {% now 'utc', '%Y' %}\n"
        b"{% raw %}{{ left alone }}{% endraw %}\n",
        "{{ cookiecutter.__slug }}/__init__.py": b'"""{{ cookiecutter.description }}"""\n',
        "{% if cookiecutter.license != 'none' %}LICENSE{% endif %}": b"{{ cookiecutter.license }}\n",
    }
    variables: dict[str, object] = {
        "project_name": "My Project",
        "description": "Says hello.",
        "license": ["MIT", "BSD-3", "none"],
        "__slug": "{{ cookiecutter.project_name|lower|replace(' ', '_') }}",
        "_module": "{{ not rendered }}",
    }
    if with_code:
        files["shout.txt"] = b"{{ cookiecutter.project_name|shout }}\n"
        variables["_extensions"] = ["local_filters.ShoutExtension"]
    template = make_template(root, files, variables)
    if with_code:
        (template / "local_filters.py").write_text(SHOUT_EXTENSION)
        hooks = template / "hooks"
        hooks.mkdir()
        (hooks / "pre_gen_project.py").write_text(
            "assert '{{ cookiecutter.license }}' in ('MIT', 'BSD-3', 'none')\n"
        )
        (hooks / "post_gen_project.py").write_text(
            "from pathlib import Path\n"
            "Path('made-by-hook.txt').write_text('{{ cookiecutter.__slug }}\\n')\n"
        )
    return template


@pytest.mark.parametrize("with_code", [False, True], ids=["sandboxed", "trusted-hooks-extensions"])
def test_public_template_features_render_as_cookiecutter_renders_them(
    tmp_path: Path, with_code: bool
) -> None:
    from plscaffold.api import new_project_from_template

    template = _feature_template(tmp_path / "t", with_code)
    new_project_from_template(
        str(template), "My Project", tmp_path / "ours", {"license": "BSD-3"}, trust=with_code
    )
    _cookiecutter(
        [str(template), "--no-input", "-o", str(tmp_path / "theirs"), "license=BSD-3"], tmp_path
    )

    ours = tree_state(tmp_path / "ours" / "My Project")
    ours = {k: v for k, v in ours.items() if not k.startswith(STATE_DIR_RELPATH)}
    assert ours == tree_state(tmp_path / "theirs" / "My Project")
    readme = (tmp_path / "ours" / "My Project" / "README.md").read_text()
    assert "(BSD-3)" in readme and "slug: my_project" in readme and "{{ left alone }}" in readme
    assert "module: {{ not rendered }}" in readme  # a `_` variable is not rendered
    assert ("made-by-hook.txt" in ours) is with_code
