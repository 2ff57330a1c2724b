"""How ``mmo bench`` scores an answer against a task's reference.

A check spec is a mapping with a ``kind`` and that kind's options; a bare string ``"choice"``
means ``{"kind": "choice"}``. ``build_check`` validates a spec when the task set is read, and
``Check.reference_problem`` the task's reference against it, so a check that cannot run (an
unknown kind or option, a bad regular expression, a schema file that is missing or not a JSON
Schema, a judge without a model, a number check whose reference holds no number) is a
``ConfigError`` naming ``file:line`` and the fix before anything is called.

The reference is the task's ``reference`` unless the check carries its own ``value``.

``exact``
    The whole answer equals the reference (or any of a list of references) after normalising:
    ``case`` (case-folded), ``whitespace`` (runs collapsed to one space, ends trimmed) and
    ``punctuation`` (surrounding ``.,;:!?"'`()[]{}*_`` and curly quotes stripped); each is on
    unless set to ``false``.
``choice``
    A multiple-choice letter A-J, read by the one extractor (``mmo.strategies.extract``, "choice":
    the MMLU-Pro harness's order: ``answer is (X)``, else ``Answer: X``, else the last standalone
    letter); the reference is a letter (``"C"``, ``"(c)"``).
``number``
    The answer's last number (the extractor's "number" mode: ``$1,234.50``, ``-3``, ``3/4``,
    ``\\frac{1}{2}``, ``50%`` all read as numbers, so ``$20.00`` equals ``20``), or with ``marker``
    (e.g. ``"####"``) the first number after the marker's last occurrence, on its line; an answer
    without the marker is wrong. It is right when ``|answer - reference| <= tolerance`` (absolute,
    default 0) or ``<= relative * |reference|`` (default 0). Values compare exactly (fractions),
    so ``0.1 + 0.2`` style float noise never decides a verdict.
``contains`` / ``not_contains``
    The answer holds the reference text (a string or a list; ``match: all`` (default) or ``any``),
    or holds none of them. ``case`` and ``whitespace`` normalise as for ``exact`` (on by default).
``regex``
    The answer matches ``pattern`` (``re.search``; ``(?i)`` etc. inline); without ``pattern`` the
    reference is the pattern, checked per task when the task set is read.
``json_schema``
    The whole answer is one JSON value (optionally inside one code fence) that validates against
    ``schema`` (inline) or ``schema_file`` (JSON or YAML, a path relative to the task file, at most
    1 MiB; read once, at load, and kept in the task's spec so a stored run needs no file).
``judge``
    An LLM judge (``model``: a profile alias or ``provider:model``) scores the answer 0-10 on
    ``rubric`` (default: agreement with the reference, or correctness without one), with the
    question, system prompt and reference; see ``JudgeCheck``. Right when the score reaches
    ``min_score`` (0-10, default 7), or give ``threshold`` as a fraction of 10 instead (0.7 = 7).
    ``params`` are the judge call's parameters (e.g. ``max_tokens``).

Every local check scores with ``Check.verdict(answer, reference)``; the judge with ``await
Check.judge(answer, task, engine)``, which every check answers (local ones locally), so a runner
may call ``judge`` for all and read ``Verdict.judge_cost_usd`` apart from the answer's cost.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Protocol, Sequence

from mmo.core.errors import BudgetExceeded, ConfigError
from mmo.strategies.extract import extractor, format_number

if TYPE_CHECKING:
    from mmo.app.engine import Engine
    from mmo.core.types import Request

MAX_SCHEMA_FILE_BYTES = 1024 * 1024  # a JSON Schema is a few KiB; a bigger file is a mistake
MAX_ANSWER_JSON_DEPTH = 100  # an answer nested deeper is not valid JSON for a schema check
EXTRACTED_CHARS = 200  # how much of what a check read is kept in a verdict
CHOICE_LETTERS = "ABCDEFGHIJ"
_EDGE_PUNCTUATION = ".,;:!?\"'`()[]{}*_\u2018\u2019\u201c\u201d"
_CHOICE_REFERENCE = re.compile(r"\(?([A-Ja-j])\)?")


class Task(Protocol):
    """What a check reads of a task (``tasks.Task``; named here so the two modules do not import
    each other): its reference, and the request that asks it."""

    @property
    def reference(self) -> Any: ...

    def request(self, base_params: Mapping[str, Any] | None = None) -> Request: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """A check's judgement of one answer. ``correct`` is ``None`` when it could not judge (the
    judge failed or gave no score); ``reason`` says why an answer failed or could not be judged.
    ``judge_cost_usd`` is what an LLM judge spent (None: no judge, or its cost is unknown)."""

    correct: bool | None
    extracted: str | None = None
    score: float | None = None
    reason: str | None = None
    judge_cost_usd: float | None = None


class Check:
    """One validated check. ``spec`` is its normalised spec (what ``Task.check`` holds; a
    ``schema_file`` is read and inlined), from which ``build_check`` builds it again."""

    kind: ClassVar[str]
    needs_judge: ClassVar[bool] = False
    needs_reference: ClassVar[bool] = True

    def __init__(self, spec: Mapping[str, Any], value: Any = None) -> None:
        self.spec = dict(spec)
        self.value = value  # the check's own reference, when it carries one

    def reference_of(self, reference: Any) -> Any:
        return self.value if self.value is not None else reference

    def reference_problem(self, reference: Any) -> str | None:
        """Why this check cannot score a task with ``reference`` (its own ``value`` wins)."""
        reference = self.reference_of(reference)
        if reference is None:
            return f"no reference for its {self.kind!r} check: give the task a 'reference', or the check a 'value'" if self.needs_reference else None
        return self._reference_problem(reference)

    def _reference_problem(self, reference: Any) -> str | None:
        return None

    def verdict(self, answer: str, reference: Any) -> Verdict:
        raise NotImplementedError

    async def judge(self, answer: str, task: Task, engine: Engine, *, log_text: bool = True) -> Verdict:
        """The verdict on ``answer`` to ``task``; a local check needs no engine."""
        return self.verdict(answer, task.reference)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


# ---- the options of a spec ---------------------------------------------------------------------


class _Options:
    """A spec's options, read one by one with their types checked; ``finish`` refuses the rest."""

    def __init__(self, spec: Mapping[str, Any], where: str) -> None:
        self.kind = str(spec["kind"])
        self.rest = {key: value for key, value in spec.items() if key != "kind"}
        self.where = where
        self.known: list[str] = []

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"check {self.kind!r}: {message}", source=self.where)

    def take(self, name: str) -> Any:
        self.known.append(name)
        return self.rest.pop(name, None)

    def flag(self, name: str, default: bool) -> bool:
        value = self.take(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"'{name}' must be true or false, got {value!r}")
        return value

    def number(self, name: str, default: float, *, low: float = 0.0, high: float | None = None) -> float:
        value = self.take(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low or (high is not None and value > high):
            limits = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
            raise self.error(f"'{name}' must be a number {limits}, got {value!r}")
        return float(value)

    def text(self, name: str) -> str | None:
        value = self.take(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise self.error(f"'{name}' must be non-empty text, got {value!r}")
        return value

    def choice(self, name: str, allowed: Sequence[str]) -> str:
        value = self.take(name)
        if value is None:
            return allowed[0]
        if value not in allowed:
            raise self.error(f"'{name}' must be one of {', '.join(allowed)}, got {value!r}")
        return str(value)

    def finish(self) -> None:
        for name in self.rest:
            close = difflib.get_close_matches(name, self.known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            options = ", ".join(self.known) if self.known else "none"
            raise self.error(f"unknown option {name!r}{hint}; its options are: {options}")


def normalise_spec(spec: Any, where: str) -> dict[str, Any]:
    """``"choice"`` -> ``{"kind": "choice"}``; a mapping must have a ``kind``."""
    if isinstance(spec, str) and spec.strip():
        return {"kind": spec.strip()}
    if isinstance(spec, Mapping):
        kind = spec.get("kind")
        if isinstance(kind, str) and kind:
            return {str(key): value for key, value in spec.items()}
        raise ConfigError(f"a check needs a 'kind' (one of {', '.join(CHECK_KINDS)}), e.g. {{kind: number, tolerance: 0.01}}", source=where)
    raise ConfigError(f"a check is a kind name ({', '.join(CHECK_KINDS)}) or a mapping with a 'kind', got {spec!r}", source=where)


def parse_check_option(text: str, where: str = "--check") -> dict[str, Any]:
    """A check given on the command line: a kind name (``choice``) or a JSON object
    (``{"kind": "number", "tolerance": 0.01}``)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except ValueError as error:
            raise ConfigError(f"not a JSON object ({error}); give a kind name such as 'choice', or a JSON object with a 'kind'", source=where) from None
        return normalise_spec(value, where)
    return normalise_spec(stripped, where)


def build_check(spec: Any, *, where: str, base_dir: Path) -> Check:
    """The check ``spec`` describes, validated; ``where`` (``file:line``) names it in errors,
    ``base_dir`` resolves a ``schema_file``."""
    normalised = normalise_spec(spec, where)
    kind = normalised["kind"]
    builder = _BUILDERS.get(kind)
    if builder is None:
        close = difflib.get_close_matches(kind, CHECK_KINDS, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown check kind {kind!r}{hint}; kinds: {', '.join(CHECK_KINDS)}", source=where)
    options = _Options(normalised, where)
    check = builder(options, normalised, base_dir)
    options.finish()
    problem = None if check.value is None or isinstance(check, RegexCheck) else check._reference_problem(check.value)
    if problem is not None:
        raise options.error(f"'value': {problem}")
    return check


def _value(options: _Options) -> Any:
    return options.take("value")


def _clip(text: str) -> str:
    return text if len(text) <= EXTRACTED_CHARS else text[: EXTRACTED_CHARS - 1] + "\u2026"


def _scalar_text(value: Any) -> str | None:
    """A reference as text: strings and numbers (not booleans)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _texts(value: Any) -> list[str] | None:
    """A reference that is one text or a non-empty list of texts (numbers read as text)."""
    items = value if isinstance(value, list) else [value]
    texts = [_scalar_text(item) for item in items]
    if not texts or any(text is None or text == "" for text in texts):
        return None
    return [text for text in texts if text is not None]


def _normalise(text: str, *, case: bool, whitespace: bool, punctuation: bool = False) -> str:
    if whitespace:
        text = " ".join(text.split())
    if punctuation:
        text = text.strip(_EDGE_PUNCTUATION + (" " if whitespace else ""))
    return text.casefold() if case else text


# ---- exact --------------------------------------------------------------------------------------


class ExactCheck(Check):
    kind = "exact"

    def __init__(self, spec: Mapping[str, Any], value: Any, *, case: bool, whitespace: bool, punctuation: bool) -> None:
        super().__init__(spec, value)
        self.case, self.whitespace, self.punctuation = case, whitespace, punctuation

    def _reference_problem(self, reference: Any) -> str | None:
        return None if _texts(reference) is not None else f"the reference of an 'exact' check must be text or a list of texts, got {reference!r}"

    def _norm(self, text: str) -> str:
        return _normalise(text, case=self.case, whitespace=self.whitespace, punctuation=self.punctuation)

    def verdict(self, answer: str, reference: Any) -> Verdict:
        accepted = {self._norm(text) for text in _texts(self.reference_of(reference)) or []}
        got = self._norm(answer)
        return Verdict(got in accepted, _clip(got), reason=None if got in accepted else "the answer is not the reference")


def _exact(options: _Options, spec: dict[str, Any], base_dir: Path) -> Check:
    value = _value(options)
    return ExactCheck(spec, value, case=options.flag("case", True), whitespace=options.flag("whitespace", True), punctuation=options.flag("punctuation", True))


# ---- choice -------------------------------------------------------------------------------------


def choice_letter(reference: Any) -> str | None:
    """A reference letter A-J (``"C"``, ``"(c)"``), upper case, or ``None``."""
    if not isinstance(reference, str):
        return None
    found = _CHOICE_REFERENCE.fullmatch(reference.strip())
    return found.group(1).upper() if found else None


class ChoiceCheck(Check):
    kind = "choice"

    def __init__(self, spec: Mapping[str, Any], value: Any) -> None:
        super().__init__(spec, value)
        self.extract = extractor("choice")

    def _reference_problem(self, reference: Any) -> str | None:
        return None if choice_letter(reference) is not None else f"the reference of a 'choice' check must be one letter A-J, got {reference!r}"

    def verdict(self, answer: str, reference: Any) -> Verdict:
        expected = choice_letter(self.reference_of(reference))
        got = self.extract(answer)
        if got is None:
            return Verdict(False, None, reason="no answer letter in the text")
        return Verdict(got == expected, got, reason=None if got == expected else f"chose {got}, expected {expected}")


def _choice(options: _Options, spec: dict[str, Any], base_dir: Path) -> Check:
    return ChoiceCheck(spec, _value(options))


# ---- number -------------------------------------------------------------------------------------


class NumberCheck(Check):
    kind = "number"

    def __init__(self, spec: Mapping[str, Any], value: Any, *, tolerance: float, relative: float, marker: str | None) -> None:
        super().__init__(spec, value)
        self.tolerance, self.relative, self.marker = Fraction(tolerance), Fraction(relative), marker
        self.extract = extractor("number")

    def reference_number(self, reference: Any) -> Fraction | None:
        text = _scalar_text(reference)
        found = None if text is None else self.extract(text)
        return None if found is None else Fraction(found)

    def _reference_problem(self, reference: Any) -> str | None:
        return None if self.reference_number(reference) is not None else f"the reference of a 'number' check must hold a number, got {reference!r}"

    def answer_number(self, answer: str) -> str | None:
        """The answer's number as the extractor writes it: the last one, or the first after the marker."""
        if self.marker is None:
            return self.extract(answer)
        at = answer.rfind(self.marker)
        if at < 0:
            return None
        line = answer[at + len(self.marker):].split("\n", 1)[0]
        return next((found for token in line.split() if (found := self.extract(token)) is not None), None)

    def verdict(self, answer: str, reference: Any) -> Verdict:
        expected = self.reference_number(self.reference_of(reference))
        got = self.answer_number(answer)
        if got is None or expected is None:
            where = f"after {self.marker!r}" if self.marker is not None else "in the answer"
            return Verdict(False, None, reason=f"no number {where}")
        difference = abs(Fraction(got) - expected)
        correct = difference <= self.tolerance or difference <= self.relative * abs(expected)
        return Verdict(correct, got, reason=None if correct else f"read {got}, expected {format_number(expected)}")


def _number(options: _Options, spec: dict[str, Any], base_dir: Path) -> Check:
    value = _value(options)
    return NumberCheck(
        spec, value, tolerance=options.number("tolerance", 0.0), relative=options.number("relative", 0.0), marker=options.text("marker")
    )


# ---- contains / not_contains --------------------------------------------------------------------


class ContainsCheck(Check):
    kind = "contains"

    def __init__(self, spec: Mapping[str, Any], value: Any, *, case: bool, whitespace: bool, match: str) -> None:
        super().__init__(spec, value)
        self.case, self.whitespace, self.match = case, whitespace, match

    def _reference_problem(self, reference: Any) -> str | None:
        return None if _texts(reference) is not None else f"the reference of a {self.kind!r} check must be non-empty text or a list of texts, got {reference!r}"

    def _found(self, answer: str, reference: Any) -> tuple[list[str], list[str]]:
        """The reference texts found in the answer, and those missing."""
        text = _normalise(answer, case=self.case, whitespace=self.whitespace)
        found: list[str] = []
        missing: list[str] = []
        for wanted in _texts(self.reference_of(reference)) or []:
            (found if _normalise(wanted, case=self.case, whitespace=self.whitespace) in text else missing).append(wanted)
        return found, missing

    def verdict(self, answer: str, reference: Any) -> Verdict:
        found, missing = self._found(answer, reference)
        correct = not missing if self.match == "all" else bool(found)
        extracted = _clip(found[0]) if found else None
        return Verdict(correct, extracted, reason=None if correct else f"missing {missing[0]!r}")


class NotContainsCheck(ContainsCheck):
    kind = "not_contains"

    def verdict(self, answer: str, reference: Any) -> Verdict:
        found, _ = self._found(answer, reference)
        return Verdict(not found, _clip(found[0]) if found else None, reason=f"holds {found[0]!r}" if found else None)


def _contains(options: _Options, spec: dict[str, Any], base_dir: Path) -> Check:
    value = _value(options)
    case, whitespace = options.flag("case", True), options.flag("whitespace", True)
    if options.kind == "not_contains":
        return NotContainsCheck(spec, value, case=case, whitespace=whitespace, match="all")
    return ContainsCheck(spec, value, case=case, whitespace=whitespace, match=options.choice("match", ("all", "any")))


# ---- regex --------------------------------------------------------------------------------------


def _compile(pattern: str) -> re.Pattern[str] | str:
    """The compiled pattern, or why it does not compile."""
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as error:
        return f"{pattern!r} is not a valid regular expression: {error}"


class RegexCheck(Check):
    kind = "regex"

    def __init__(self, spec: Mapping[str, Any], pattern: re.Pattern[str] | None) -> None:
        super().__init__(spec, None if pattern is None else pattern.pattern)
        self.pattern = pattern

    def _reference_problem(self, reference: Any) -> str | None:
        if not isinstance(reference, str) or not reference:
            return f"a 'regex' check without a pattern takes the reference as its pattern: it must be text, got {reference!r}"
        compiled = _compile(reference)
        return compiled if isinstance(compiled, str) else None

    def verdict(self, answer: str, reference: Any) -> Verdict:
        pattern = self.pattern if self.pattern is not None else re.compile(str(reference))
        found = pattern.search(answer)
        if found is None:
            return Verdict(False, None, reason=f"no match for /{pattern.pattern}/")
        return Verdict(True, _clip(found.group(0)))


def _regex(options: _Options, spec: dict[str, Any], base_dir: Path) -> Check:
    pattern = options.text("pattern")
    if pattern is None:
        return RegexCheck(spec, None)
    compiled = _compile(pattern)
    if isinstance(compiled, str):
        raise options.error(f"'pattern' {compiled}")
    return RegexCheck(spec, compiled)


# ---- json_schema --------------------------------------------------------------------------------


class JsonSchemaCheck(Check):
    kind = "json_schema"
    needs_reference = False

    def __init__(self, spec: Mapping[str, Any], validator: Any) -> None:
        super().__init__(spec)
        self.validator = validator

    def verdict(self, answer: str, reference: Any) -> Verdict:
        from jsonschema.exceptions import best_match

        from mmo.providers.wire_json import nested_deeper_than
        from mmo.strategies.extract import canonical_json, parse_json_answer

        if nested_deeper_than(answer, MAX_ANSWER_JSON_DEPTH):
            return Verdict(False, None, reason=f"JSON nested deeper than {MAX_ANSWER_JSON_DEPTH} levels")
        try:
            value = parse_json_answer(answer)
            mismatch = best_match(self.validator.iter_errors(value))
        except ValueError as error:
            return Verdict(False, None, reason=f"not valid JSON: {error}")
        except RecursionError:
            return Verdict(False, None, reason="JSON nested too deeply to validate")
        extracted = _clip(canonical_json(value))
        if mismatch is None:
            return Verdict(True, extracted)
        return Verdict(False, extracted, reason=f"does not match the schema at {mismatch.json_path}: {_clip(mismatch.message)}")


def _json_schema(options: _Options, spec: dict[str, Any], base_dir: Path) -> Check:
    inline, file = options.take("schema"), options.text("schema_file")
    if (inline is None) == (file is None):
        raise options.error("give 'schema' (a JSON Schema, inline) or 'schema_file' (a path relative to the task file), one of them")
    if file is not None:
        inline = _read_schema_file(file, base_dir, options)
        spec = {key: value for key, value in spec.items() if key != "schema_file"} | {"schema": inline}
    return JsonSchemaCheck(spec, _schema_validator(inline, options))


def _read_schema_file(name: str, base_dir: Path, options: _Options) -> Any:
    from mmo.config.yaml_lines import parse_yaml

    path = (base_dir / Path(name).expanduser()).resolve()
    where = f"'schema_file' {name!r} ({path})"
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_SCHEMA_FILE_BYTES + 1)
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise options.error(f"cannot read {where}: {reason}; the path is relative to the task file") from None
    if len(raw) > MAX_SCHEMA_FILE_BYTES:
        raise options.error(f"{where} is larger than {MAX_SCHEMA_FILE_BYTES // 1024} KiB: not a JSON Schema")
    if path.suffix.lower() in (".yaml", ".yml"):
        parsed = parse_yaml(text, str(path), what="a JSON Schema")
        if parsed.problems:
            raise options.error(f"{where}: {parsed.problems[0]}")
        return parsed.data
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise options.error(f"{where} is not valid JSON: {error}") from None


def _schema_validator(schema: Any, options: _Options) -> Any:
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, dict):
        raise options.error(f"the schema must be a mapping (a JSON Schema object), got {type(schema).__name__}")
    validator_class = validators.validator_for(schema, default=Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except SchemaError as error:
        raise options.error(f"not a valid JSON Schema: {error.message} at {error.json_path}") from None
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


# ---- judge --------------------------------------------------------------------------------------


DEFAULT_MIN_SCORE = 7.0
DEFAULT_RUBRIC = "Is the answer correct, complete and directly responsive to the question?"
REFERENCE_RUBRIC = "Does the answer agree with the reference answer? Judge what it concludes, not its wording or length."


class JudgeCheck(Check):
    """An LLM judge, asked through the one run API (``Engine.run(request, model=...)``).

    The judge prompt is the cascade's judge gate's (``mmo.strategies.gates.judge``): a system
    message saying the tagged text is material to grade, never instructions, and that the reply
    must end with a line ``Score: N`` (a whole number from 0 to 10); then the rubric, the task's
    system prompt, the question (its last user message), the reference answer (when the task has
    one) and the answer, each in its own tag. The judge's last ``Score: N`` line is its score; a
    reply without one, or a judge call that fails, is a failed judgement (``correct=None``, with
    the reason). ``Verdict.score`` is the score as a fraction (7/10 -> 0.7); the judge's cost is
    ``Verdict.judge_cost_usd``, and its run is recorded in the run log like any other. A cap
    (``--max-cost``, a budget) refusing the judge call raises its ``BudgetExceeded``, so the run
    stops as it does for an answer; the answer being judged is the caller's to keep."""

    kind = "judge"
    needs_judge = True
    needs_reference = False

    def __init__(self, spec: Mapping[str, Any], value: Any, *, model: str, rubric: str | None, min_score: float, params: Mapping[str, Any]) -> None:
        super().__init__(spec, value)
        self.model, self.rubric, self.min_score, self.params = model, rubric, min_score, dict(params)

    def _reference_problem(self, reference: Any) -> str | None:
        return None if isinstance(reference, (str, int, float, list, dict)) else f"the judge cannot be shown the reference {reference!r}"

    def verdict(self, answer: str, reference: Any) -> Verdict:
        return Verdict(None, reason=f"an LLM judge ({self.model}) scores this check: run it with Check.judge")

    def request_for(self, answer: str, task: Task) -> Request:
        """What the judge is sent for ``answer`` to ``task``."""
        from mmo.spec.params import params_from_mapping
        from mmo.strategies.gates.judge import judge_request

        reference = self.reference_of(task.reference)
        shown = None if reference is None else reference if isinstance(reference, str) else json.dumps(reference, ensure_ascii=False)
        rubric = self.rubric or (REFERENCE_RUBRIC if shown is not None else DEFAULT_RUBRIC)
        request = judge_request(task.request(), answer, rubric, reference=shown)
        return request.with_params(params_from_mapping(self.params)) if self.params else request

    async def judge(self, answer: str, task: Task, engine: Engine, *, log_text: bool = True) -> Verdict:
        from mmo.strategies.gates.judge import parse_score

        request = self.request_for(answer, task)
        outcome = await engine.run(request, model=self.model)
        engine.log(outcome, request, command="bench-judge", log_text=log_text)
        if isinstance(outcome.error, BudgetExceeded):
            raise outcome.error  # a cap stops the run, judges included: not a verdict on this answer
        cost = outcome.total_cost.usd
        if outcome.completion is None:
            return Verdict(None, reason=f"judge {self.model} failed: {_error_text(outcome.error)}", judge_cost_usd=cost)
        score = parse_score(outcome.completion.text)
        if score is None:
            size = len(outcome.completion.text)
            return Verdict(None, reason=f"judge {self.model} gave no 'Score: N' line with N from 0 to 10 ({size} characters)", judge_cost_usd=cost)
        correct = score >= self.min_score
        comparison = ">=" if correct else "<"
        return Verdict(correct, f"{score:g}/10", score / 10, None if correct else f"judge scored {score:g}/10 {comparison} {self.min_score:g}", cost)


def _error_text(error: BaseException | None) -> str:
    text, name = str(error), type(error).__name__
    return text if text.startswith(name) else f"{name}: {text}"


def _judge(options: _Options, spec: dict[str, Any], base_dir: Path) -> Check:
    from mmo.spec.params import params_from_mapping

    value = _value(options)
    model, rubric = options.text("model"), options.text("rubric")
    if model is None:
        raise options.error("needs 'model': the judge, a profile alias or provider:model (e.g. {kind: judge, model: openai:gpt-4o-mini})")
    given_threshold = "threshold" in options.rest
    if given_threshold and "min_score" in options.rest:
        raise options.error("give 'min_score' (0-10) or 'threshold' (a fraction of 10, 0-1), not both")
    threshold = options.number("threshold", 0.7, high=1.0)
    min_score = options.number("min_score", DEFAULT_MIN_SCORE, high=10.0)
    if given_threshold:
        min_score = threshold * 10
    params = options.take("params") or {}
    if not isinstance(params, Mapping):
        raise options.error(f"'params' must be a mapping of the judge call's parameters, got {params!r}")
    try:
        params_from_mapping(params, where="params:")
    except ConfigError as error:
        raise options.error(error.message) from None
    return JudgeCheck(spec, value, model=model, rubric=rubric, min_score=min_score, params=params)


_Builder = Callable[[_Options, dict[str, Any], Path], Check]
_BUILDERS: Mapping[str, _Builder] = {
    "exact": _exact,
    "choice": _choice,
    "number": _number,
    "contains": _contains,
    "not_contains": _contains,
    "regex": _regex,
    "json_schema": _json_schema,
    "judge": _judge,
}
CHECK_KINDS: tuple[str, ...] = tuple(_BUILDERS)
