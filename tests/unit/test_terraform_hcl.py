"""stkpi_tools.terraform.hcl: the evaluator of Terraform expressions, construct by construct on
small inline configurations, then on the real terraform/ directory."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import hcl2
import pytest

from stkpi_tools.terraform.hcl import (
    CycleError,
    HclError,
    HclSet,
    MissingVariable,
    Module,
    NotSupported,
    ParseError,
    Unknown,
)

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "terraform"

VARS_TF = """
variable "project_id" {
  type = string
}
variable "n" {
  type    = number
  default = 3
}
variable "names" {
  type    = list(string)
  default = ["b", "a", "c"]
}
variable "m" {
  type = map(string)
  default = {
    x = "1"
    y = "2"
  }
}
variable "flag" {
  type    = bool
  default = true
}
"""


def module(tmp_path: Path, text: str = "", variables: dict[str, Any] | None = None) -> Module:
    (tmp_path / "variables.tf").write_text(VARS_TF)
    (tmp_path / "main.tf").write_text(text or "locals {}\n")
    return Module(tmp_path, variables if variables is not None else {"project_id": "p"})


@pytest.fixture
def m(tmp_path: Path) -> Module:
    return module(tmp_path)


# ---- literals and templates ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("42", 42),
        ("1.5", 1.5),
        ("1.5e3", 1500),
        ("2.0", 2),
        ("true", True),
        ("false", False),
        ("null", None),
        ('"plain"', "plain"),
        (r'"tab\tquote\" backslash\\ nl\n"', 'tab\tquote" backslash\\ nl\n'),
        (r'"\u00e9\U0001F600"', "\u00e9\U0001f600"),
        ('"$${not} %%{directive}"', "${not} %{directive}"),
        ('"a ${var.n} b"', "a 3 b"),
        ('"${var.flag} ${1.5} ${2.0}"', "true 1.5 2"),
    ],
)
def test_literals_and_templates(m: Module, expr: str, expected: Any) -> None:
    assert m.eval(expr) == expected


def test_a_template_of_one_interpolation_keeps_the_type(m: Module) -> None:
    assert m.eval('"${var.n}"') == 3
    assert m.eval('"${var.names}"') == ["b", "a", "c"]
    assert m.eval('"${var.n}x"') == "3x"


def test_nested_template_quoting(m: Module) -> None:
    # Quotes inside an interpolation start a new string; braces inside those strings do
    # not close the interpolation.
    assert m.eval('"a ${"b ${"c"} d"} e"') == "a b c d e"
    assert m.eval('"x ${ {a = "}"}["a"] } y"') == "x } y"
    assert m.eval('"${join(",", [for s in ["p", "q"] : "<${s}>"])}"') == "<p>,<q>"
    assert m.eval('"${"}"}"') == "}"


def test_hcl2_wrapped_expressions_and_heredocs(m: Module) -> None:
    # python-hcl2 hands expressions over as "${...}" and heredocs inside quotes.
    assert m.eval("${max(1, var.n)}") == 3
    assert m.eval("${{for k, v in var.m : v => k}}") == {"1": "x", "2": "y"}
    assert m.eval('"<<EOT\nsay "hi" ${var.n}\nEOT"') == 'say "hi" 3\n'
    assert m.eval('"<<-EOT\n    a\n      b ${var.n}\n    EOT"') == "a\n  b 3\n"


def test_template_directives(m: Module) -> None:
    assert m.eval('"%{ if var.flag }yes%{ else }no%{ endif }"') == "yes"
    assert m.eval('"%{ if !var.flag }yes%{ endif }!"') == "!"
    assert m.eval('"%{ for x in var.names }${x};%{ endfor }"') == "b;a;c;"
    assert m.eval('"[ %{~ for x in ["a", "b"] ~} ${x} %{~ endfor ~} ]"') == "[ab]"


# ---- operators ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("1 + 2 * 3 - 4 / 2 % 3", 5),  # 1 + 6 - ((4 / 2) % 3) = 7 - 2
        ("10 / 4", 2.5),
        ("5 % 3 * 2", 4),  # left to right: (5 % 3) * 2
        ("-5 % 3", -2),  # the dividend's sign, like Terraform
        ("-2 * 3", -6),
        ("2 - -1", 3),
        ("8 - 4 - 2", 2),
        ("!true || false && true", False),  # && binds tighter: false || (false && true)
        ("true || false && false", True),
        ("1 + 2 == 3 && 2 > 1", True),
        ("1 < 2 == true", True),  # comparison binds tighter than equality
        ("2 >= 2 && 2 <= 1", False),
        ('"a" != "b"', True),
        ('1 == "1"', False),  # no conversion for equality
        ("[1, [2]] == [1, [2]]", True),
        ("{a = 1} == {a = 1}", True),
        ("true ? false ? 1 : 2 : 3", 2),
        ("false ? 1 : true ? 2 : 3", 3 - 1),
        ('var.n > 2 ? "big" : "small"', "big"),
        ('"5" * 2', 10),  # arithmetic converts numeric strings
    ],
)
def test_operators_and_precedence(m: Module, expr: str, expected: Any) -> None:
    assert m.eval(expr) == expected


def test_operator_type_errors_are_clear(m: Module) -> None:
    with pytest.raises(HclError, match="must be a number"):
        m.eval('"a" + 1')
    with pytest.raises(HclError, match="must be a bool"):
        m.eval("1 && true")
    with pytest.raises(HclError, match="division by zero"):
        m.eval("1 / 0")


# ---- references, collections ---------------------------------------------------------------


def test_references_index_and_splat(m: Module, tmp_path: Path) -> None:
    assert m.eval("var.names[1]") == "a"
    assert m.eval("var.names.0") == "b"  # legacy index
    assert m.eval('var.m["y"]') == "2"
    assert m.eval("var.m.x") == "1"
    assert m.eval("[{a = 1}, {a = 2}][*].a") == [1, 2]
    assert m.eval("[{a = [5]}, {a = [6]}][*].a[0]") == [5, 6]
    assert m.eval("[{a = 1}, {a = 2}].*.a") == [1, 2]
    assert m.eval("{a = 1}[*].a") == [1]  # a single value splats as a one-element list
    assert m.eval("null[*]") == []
    assert m.eval("path.module") == str(tmp_path.resolve())
    assert m.eval("each.value.x", each=("k", {"x": 7})) == 7
    assert m.eval("each.key", each={"key": "k", "value": None}) == "k"


def test_tuple_and_object_literals(m: Module) -> None:
    assert m.eval('[1, "two", var.n, [3], {a = 1},]') == [1, "two", 3, [3], {"a": 1}]
    assert m.eval('{ a = 1, "b c" = 2, d: 3, (var.m.x) = 4, "${var.n}" = 5 }') == {
        "a": 1,
        "b c": 2,
        "d": 3,
        "1": 4,
        "3": 5,
    }
    assert m.eval("{\n  a = 1\n  b = var.n\n}") == {"a": 1, "b": 3}
    assert m.eval("{var = 1}") == {"var": 1}  # a bare name is the key, not a reference
    assert m.eval("{}") == {}
    assert m.eval("[]") == []


def test_for_expressions(m: Module) -> None:
    assert m.eval("[for x in var.names : upper(x)]") == ["B", "A", "C"]
    assert m.eval('[for x in var.names : x if x != "a"]') == ["b", "c"]
    assert m.eval("[for i, x in var.names : i]") == [0, 1, 2]
    assert m.eval('[for i, x in var.names : "${i}${x}" if i > 0]') == ["1a", "2c"]
    # maps iterate in key order; the key variable is the map key
    assert m.eval("[for k, v in var.m : k]") == ["x", "y"]
    assert m.eval("[for v in var.m : v]") == ["1", "2"]
    assert m.eval('{for k, v in var.m : "${k}!" => tonumber(v) if v != "2"}') == {"x!": 1}
    assert m.eval("{for x in var.names : x => length(x)}") == {"a": 1, "b": 1, "c": 1}
    # sets: key and value are the element
    assert m.eval("[for k, v in toset(var.names) : k == v]") == [True, True, True]
    # grouping
    assert m.eval('{for x in ["ab", "ac", "b"] : substr(x, 0, 1) => x...}') == {
        "a": ["ab", "ac"],
        "b": ["b"],
    }
    with pytest.raises(HclError, match="duplicate key"):
        m.eval('{for x in ["ab", "ac"] : substr(x, 0, 1) => x}')


def test_merge_with_expansion(m: Module) -> None:
    assert m.eval("merge([{a = 1}, {b = 2}, {a = 3}]...)") == {"a": 3, "b": 2}
    assert m.eval("merge({z = 0}, [{a = 1}]...)") == {"a": 1, "z": 0}
    assert m.eval("merge([]...)") == {}
    assert m.eval("merge({a = 1}, null)") == {"a": 1}
    assert m.eval("merge([for k, v in var.m : { (v) = k }]...)") == {"1": "x", "2": "y"}
    with pytest.raises(HclError, match=r"before '\.\.\.' must be a list"):
        m.eval("merge({a = 1}...)")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("max(1, floor(7 * 0.5 / 5))", 1),
        ("min(4, 2.5, 3)", 2.5),
        ("max([3, 9]...)", 9),
        ("floor(2.7)", 2),
        ("ceil(2.1)", 3),
        ("floor(-2.5)", -3),
        ("tostring(6)", "6"),
        ("tostring(0.5)", "0.5"),
        ("tostring(true)", "true"),
        ('tonumber("12")', 12),
        ('tonumber("1.25")', 1.25),
        ("keys(var.m)", ["x", "y"]),
        ("values(var.m)", ["1", "2"]),
        ("toset(var.names)", HclSet(("a", "b", "c"))),
        ('toset(["b", "a", "b"])', HclSet(("a", "b"))),
        ("tolist(toset(var.names))", ["a", "b", "c"]),
        ('lookup(var.m, "x", "d")', "1"),
        ('lookup(var.m, "z", "d")', "d"),
        ("concat([1], [2, 3], [])", [1, 2, 3]),
        ('contains(var.names, "a")', True),
        ('contains(var.names, "z")', False),
        ("length(var.names)", 3),
        ("length(var.m)", 2),
        ('length("abc")', 3),
        ('join("-", var.names)', "b-a-c"),
        ('format("%s-%d/%03d %%", "a", 5, 7)', "a-5/007 %"),
        ('format("%v", "x")', "x"),
        ('lower("AbC")', "abc"),
        ('upper("AbC")', "ABC"),
        ('replace("a_b_c", "_", "-")', "a-b-c"),
        ('replace("a1b22", "/[0-9]+/", "#")', "a#b#"),
        ('coalesce("", null, "x", "y")', "x"),
        ('startswith("st-plan", "st-")', True),
        ('endswith("x.pyc", ".pyc")', True),
        ('strcontains("a/__pycache__/b", "__pycache__")', True),
        ('trimsuffix("a.json", ".json")', "a"),
        ('split(",", "a,b")', ["a", "b"]),
        ('setproduct(["u"], ["a", "b"])', [["u", "a"], ["u", "b"]]),
        ("flatten([[1, [2]], 3])", [1, 2, 3]),
        ("distinct([1, 2, 1])", [1, 2]),
        ('jsonencode({b = [1, "<"], a = null})', '{"a":null,"b":[1,"\\u003c"]}'),
        ('jsondecode("{\\"a\\": [1, 2.5]}")', {"a": [1, 2.5]}),
        ("alltrue([true, 1 < 2])", True),
        ('can(regex("^a", "abc"))', True),
        ('can(regex("^z", "abc"))', False),
        ('try(var.m.nope, "fallback")', "fallback"),
        ('base64encode("hi")', "aGk="),
    ],
)
def test_functions(m: Module, expr: str, expected: Any) -> None:
    assert m.eval(expr) == expected


def test_file_functions(m: Module, tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.txt").write_text("A")
    (tmp_path / "d" / "sub" / "b.txt").write_text("B")
    assert m.eval('fileset("${path.module}/d", "**")') == HclSet(("a.txt", "sub/b.txt"))
    assert m.eval('fileset("d", "*.txt")') == HclSet(("a.txt",))
    assert m.eval('file("${path.module}/d/a.txt")') == "A"
    assert m.eval('abspath("${path.module}/d/..")') == str(tmp_path.resolve())
    with pytest.raises(NotSupported):
        m.eval('templatefile("x.tpl", {})')


def test_unknown_function_is_a_clear_error(tmp_path: Path) -> None:
    mod = module(tmp_path, "locals {\n  x = frobnicate(var.n)\n}\n")
    with pytest.raises(HclError) as err:
        mod.local("x")
    text = str(err.value)
    assert "unknown function frobnicate()" in text
    assert "main.tf: locals: x = ${frobnicate(var.n)}" in text  # file, block, expression


def test_parse_errors_point_at_the_text(m: Module) -> None:
    with pytest.raises(ParseError, match=r"expected ',' or '\]' in a tuple") as err:
        m.eval("[1, 2")
    assert "^" in str(err.value)
    with pytest.raises(ParseError, match="unterminated string"):
        m.eval('"abc')
    with pytest.raises(ParseError, match="unexpected text"):
        m.eval("1 2")


# ---- Module: variables and locals ------------------------------------------------------------


def test_variables_overrides_win_and_are_converted(tmp_path: Path) -> None:
    mod = module(tmp_path, variables={"project_id": "p", "n": "7", "flag": "false"})
    assert mod.var("n") == 7  # declared number: "7" converts
    assert mod.var("flag") is False
    assert mod.var("names") == ["b", "a", "c"]  # default
    assert mod.var("m") == {"x": "1", "y": "2"}


def test_a_missing_variable_fails_only_when_used(tmp_path: Path) -> None:
    mod = module(
        tmp_path,
        'locals {\n  uses = "${var.project_id}-x"\n  other = var.n\n}\n',
        variables={},
    )
    assert mod.local("other") == 3
    with pytest.raises(MissingVariable) as err:
        mod.local("uses")
    text = str(err.value)
    assert "var.project_id has no default and no value was given" in text
    assert 'variables.tf: variable "project_id"' in text
    assert "main.tf: locals: uses" in text


def test_undeclared_override_or_variable_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HclError, match="undeclared variables: nope"):
        module(tmp_path, variables={"project_id": "p", "nope": 1})
    with pytest.raises(HclError, match=r"undeclared variable var\.nope"):
        module(tmp_path).eval("var.nope")


def test_locals_are_lazy_memoized_and_cycles_are_named(tmp_path: Path) -> None:
    text = """
locals {
  a = local.b + 1
  b = var.n * 2
  broken = 1 + "x"
  c1 = local.c2
}
locals {
  c2 = local.c3
  c3 = local.c1
}
"""
    mod = module(tmp_path, text)
    assert mod.local("a") == 7  # the broken local is never evaluated
    assert mod.local("a") is mod.local("a")
    with pytest.raises(CycleError, match=r"local\.c1 -> local\.c2 -> local\.c3 -> local\.c1"):
        mod.local("c1")
    with pytest.raises(HclError, match=r"undeclared local value local\.zz"):
        mod.local("zz")


# ---- Module: resources ----------------------------------------------------------------------

RESOURCES_TF = """
provider "google" {
  project = var.project_id
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  topics = { plan = "st-plan", loads = "st-loads" }
}

resource "google_pubsub_topic" "main" {
  for_each = local.topics
  name     = each.value
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.topics
  name     = "${each.value}-dead-letter"
}

resource "google_service_account" "fn" {
  for_each   = toset(["a", "b"])
  account_id = "sa-${each.key}"
}

resource "google_storage_bucket" "b" {
  name = "${var.project_id}-bucket"
  lifecycle {
    prevent_destroy = true
  }
}

resource "google_thing" "counted" {
  count = var.n
  label = "n${count.index}"
}

resource "google_project_service" "apis" {
  service = "pubsub.googleapis.com"
}

resource "google_pubsub_subscription" "push" {
  for_each = local.topics
  name     = "${each.value}-sub"
  topic    = google_pubsub_topic.main[each.key].id

  retry_policy {
    minimum_backoff = "${var.n}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = 5
  }

  dynamic "label" {
    for_each = var.m
    iterator = it
    content {
      text = "${each.key}:${it.key}=${it.value}"
    }
  }

  dynamic "extra" {
    for_each = each.key == "plan" ? [1] : []
    content {
      sa = google_service_account.fn["a"].email
    }
  }
}

resource "google_cloudfunctions2_function" "fn" {
  name = "st-fn"
  service_config {
    max_instance_count = 2
  }
}

locals {
  endpoint   = google_cloudfunctions2_function.fn.service_config[0].uri
  number     = data.google_project.this.number
  names      = [for t in google_pubsub_topic.main : t.name]
  labels     = google_thing.counted[*].label
  sa_name    = google_service_account.fn["b"].name
  missing    = google_pubsub_topic.main["nope"].name
  not_known  = google_pubsub_topic.main["plan"].kms_key_name
  bucket_url = google_storage_bucket.b.url
}
"""


@pytest.fixture
def rm(tmp_path: Path) -> Module:
    return module(tmp_path, RESOURCES_TF, {"project_id": "p", "n": 2})


def test_instances_expand_for_each_and_count(rm: Module) -> None:
    topics = rm.instances("google_pubsub_topic", "main")
    assert list(topics) == ["loads", "plan"]
    assert topics["plan"].attr("name") == "st-plan"
    assert topics["plan"].address == 'google_pubsub_topic.main["plan"]'
    sas = rm.instances("google_service_account", "fn")
    assert {k: i.attr("account_id") for k, i in sas.items()} == {"a": "sa-a", "b": "sa-b"}
    counted = rm.instances("google_thing", "counted")
    assert {k: i.attr("label") for k, i in counted.items()} == {0: "n0", 1: "n1"}
    (single,) = rm.instances("google_storage_bucket", "b").items()
    assert single[0] is None and single[1].attr("name") == "p-bucket"
    assert rm.instances("data.google_project", "this")[None].attr("project_id") == "p"
    assert ("google_pubsub_topic", "main") in rm.resources()
    assert rm.resources("google_pubsub_topic") == [
        ("google_pubsub_topic", "main"),
        ("google_pubsub_topic", "dead_letter"),
    ]


def test_nested_and_dynamic_blocks_in_the_instance_scope(rm: Module) -> None:
    plan = rm.instances("google_pubsub_subscription", "push")["plan"]
    assert plan.attr("topic") == "projects/p/topics/st-plan"
    assert plan.block("retry_policy")[0].attr("minimum_backoff") == "2s"
    (dlp,) = plan.block("dead_letter_policy")
    assert dlp.attrs() == {
        "dead_letter_topic": "projects/p/topics/st-plan-dead-letter",
        "max_delivery_attempts": 5,
    }
    assert [b.attr("text") for b in plan.block("label")] == ["plan:x=1", "plan:y=2"]
    assert [b.attr("sa") for b in plan.block("extra")] == ["sa-a@p.iam.gserviceaccount.com"]
    loads = rm.instances("google_pubsub_subscription", "push")["loads"]
    assert loads.block("extra") == []
    assert loads.block("push_config") == []
    assert not plan.has("ack_deadline_seconds")
    assert plan.attr("ack_deadline_seconds", None) is None
    # meta-arguments are not arguments
    assert "depends_on" not in rm.instances("google_pubsub_topic", "main")["plan"].attr_names()
    assert rm.instances("google_storage_bucket", "b")[None].block_names() == []


def test_references_to_resources_use_arguments_then_computed_attributes(rm: Module) -> None:
    assert rm.local("endpoint") == "https://st-fn-p.run.app"
    assert rm.local("number") == "000000000000"
    assert rm.local("names") == ["st-loads", "st-plan"]
    assert rm.local("labels") == ["n0", "n1"]
    assert rm.local("sa_name") == "projects/p/serviceAccounts/sa-b@p.iam.gserviceaccount.com"
    assert rm.local("bucket_url") == "gs://p-bucket"
    with pytest.raises(HclError, match=r'no instance \["nope"\]'):
        rm.local("missing")


def test_unknown_computed_attributes_raise_unknown(rm: Module) -> None:
    with pytest.raises(Unknown) as err:
        rm.local("not_known")
    assert err.value.reference == 'google_pubsub_topic.main["plan"].kms_key_name'
    assert "main.tf: locals: not_known" in str(err.value)
    try:
        rm.eval('google_pubsub_topic.main["plan"].kms_key_name')
    except Unknown:
        pass  # a caller that does not need the value catches it
    else:  # pragma: no cover
        pytest.fail("expected Unknown")


def test_errors_name_the_resource_attribute(tmp_path: Path) -> None:
    mod = module(
        tmp_path,
        'resource "google_pubsub_topic" "t" {\n  name = "${var.n + "x"}"\n}\n',
    )
    with pytest.raises(HclError) as err:
        mod.instances("google_pubsub_topic", "t")[None].attr("name")
    text = str(err.value)
    assert "must be a number" in text
    assert 'main.tf: resource "google_pubsub_topic" "t": name = "${var.n + "x"}"' in text


def test_for_each_over_a_list_is_refused(tmp_path: Path) -> None:
    mod = module(tmp_path, 'resource "google_x" "y" {\n  for_each = ["a"]\n}\n')
    with pytest.raises(HclError, match=r"wrap a list in toset\(\)"):
        mod.instances("google_x", "y")


# ---- the real terraform/ ---------------------------------------------------------------------

# Every input the checked values depend on is pinned here, so the hand computations below
# hold whatever the defaults in variables.tf become.
PINNED = {
    "project_id": "p",
    "tenant_rate_limit_per_second": 60,
    "rate_limit_safety_factor": 0.5,
    "fetch_rate_per_instance": 5,
    "load_max_instances": 10,
    "fetch_time_budget_seconds": 400,
}


@pytest.fixture(scope="module")
def real() -> Module:
    return Module(TF, PINNED)


def test_real_fetch_max_instances(real: Module) -> None:
    # max(1, floor(60 * 0.5 / 5)) = max(1, floor(6.0)) = 6
    assert real.local("fetch_max_instances") == 6
    # A small tenant: max(1, floor(7 * 0.5 / 5)) = max(1, floor(0.7)) = max(1, 0) = 1
    small = Module(TF, {**PINNED, "tenant_rate_limit_per_second": 7})
    assert small.local("fetch_max_instances") == 1
    # 100 * 0.3 / 4 = 7.5 -> 7
    other = Module(
        TF,
        {
            **PINNED,
            "tenant_rate_limit_per_second": 100,
            "rate_limit_safety_factor": 0.3,
            "fetch_rate_per_instance": 4,
        },
    )
    assert other.local("fetch_max_instances") == math.floor(100 * 0.3 / 4) == 7


def _raw_local(name: str) -> Any:
    for path in sorted(TF.glob("*.tf")):
        with path.open() as f:
            for block in hcl2.load(f).get("locals", []):
                if name in block:
                    return block[name]
    raise KeyError(name)


def test_real_publish_grants(real: Module) -> None:
    # local.publishes is a literal object: function -> topic keys, e.g. today
    #   fetch_window = ["loads", "windows"], rebuild_dims = []
    # publish_grants = merge([for fn, topics : {for t in topics : "fn/t" => {fn, topic}}]...)
    # flattens it to one entry per (function, topic) pair, keyed "fn/topic"; a function
    # that publishes nothing contributes nothing. Computed here with plain Python from the
    # literal python-hcl2 returns (strings keep their quotes there).
    publishes = {fn: [t.strip('"') for t in ts] for fn, ts in _raw_local("publishes").items()}
    expected = {
        f"{fn}/{t}": {"fn": fn, "topic": t} for fn, topics in publishes.items() for t in topics
    }
    got = real.local("publish_grants")
    assert got == expected
    assert got["fetch_window/loads"] == {"fn": "fetch_window", "topic": "loads"}
    assert not any(k.startswith("rebuild_dims/") for k in got) or publishes["rebuild_dims"]


def test_real_function_env(real: Module) -> None:
    env = real.local("function_env")
    functions = real.local("functions")
    assert set(env) == set(functions)
    # window_lanes = one per fetch instance (6, above), at most load's capacity
    # (10 instances, pinned, x its concurrency).
    lanes = min(6, 10 * functions["load_batch"]["concurrency"])
    for fn, values in env.items():
        assert all(isinstance(v, str) for v in values.values()), fn
        assert values["GCP_PROJECT"] == "p"
        assert values["LANDING_BUCKET"] == "p-st-landing"  # landing_bucket_name "" -> default
        assert values["TOPIC_PLAN"] == "st-plan"
        assert values["WINDOW_LANES"] == str(lanes)
        # no credential value in the plain env: the readers get the secrets' names
        assert "ST_CLIENT_ID" not in values
        assert ("ST_SECRETS" in values) == functions[fn]["reads_st_api"]
    # fetch_window alone: its token bucket and its time budget, as strings
    assert env["fetch_window"]["ST_RATE_LIMIT_PER_SECOND"] == "5"
    assert env["fetch_window"]["FETCH_TIME_BUDGET_SECONDS"] == "400"
    assert "ST_RATE_LIMIT_PER_SECOND" not in env["load_batch"]
    # every function gets the common env unchanged
    common = real.local("common_env")
    for values in env.values():
        assert {k: values[k] for k in common} == common


def test_real_module_loads_every_resource_or_says_unknown(real: Module) -> None:
    # Every attribute of every instance evaluates, or raises Unknown (values known only
    # after apply, e.g. archive hashes): no parse error, no unsupported construct.
    for rtype, name in real.resources():
        for inst in real.instances(rtype, name).values():
            for attr in inst.attr_names():
                with contextlib.suppress(Unknown):
                    inst.attr(attr)
