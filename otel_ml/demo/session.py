"""One run of the demo: start everything, drive the phases, summarise, stop everything."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from typing import Any, TextIO

import otel_ml
from otel_ml.config import Settings, get_settings
from otel_ml.demo.alert_rules import load_rules
from otel_ml.demo.alerts import TIME_SCALE, AlertEvaluator, AlertState
from otel_ml.demo.app import build_app
from otel_ml.demo.costs import TENANT_SOURCE, demo_prices
from otel_ml.demo.llm_server import running_server
from otel_ml.demo.logtail import LogTail
from otel_ml.demo.metric_history import MetricHistory
from otel_ml.demo.model import MODEL_NAME, MODEL_VERSION, DemoModel, train
from otel_ml.demo.options import DemoOptions
from otel_ml.demo.rag import LLM_MODEL, RagService, stand_in_reply
from otel_ml.demo.readout import Readout, read
from otel_ml.demo.server import serve
from otel_ml.demo.summary import RunRecord, next_steps, summary_lines
from otel_ml.demo.telemetry import TICK_S, DemoTelemetry
from otel_ml.demo.traffic import PHASES, Schedule, Traffic, warm_up
from otel_ml.demo.view import Header, Screen, frame, status_line
from otel_ml.genai.evaluation import state as evaluation_state

FEEDBACK_ROUTE = "/feedback"
DRIFT_PAGE = "/ml/drift"
PLAIN_LINES = 12  # status lines over a run without a terminal
JUDGE_MODEL = "stand-in-judge"


class DemoSession:
    """Everything one ``otel-ml demo`` run starts; :meth:`close` stops all of it."""

    def __init__(self, options: DemoOptions, out: TextIO, stop: threading.Event) -> None:
        self.options = options
        self.stop = stop
        self.screen = Screen(out, options.live)
        self.telemetry = DemoTelemetry(options.otlp_endpoint)
        self.history = MetricHistory(self.telemetry.metrics, keep_s=6 * 3600 / TIME_SCALE)
        self.rules = load_rules()
        self.alerts = AlertEvaluator(self.rules)
        self.record = RunRecord()
        self.logs = LogTail()
        self.urls: dict[str, str] = {}
        self._stack = ExitStack()

    def run(self) -> bool:
        """Train, serve, drive the traffic; False when Ctrl-C cut it short."""
        say = self.screen.print
        say(f"otel-ml demo: training a scikit-learn classifier ({MODEL_NAME}) on the breast")
        say("  cancer data that ships with scikit-learn, plus a synthetic 'site' category")
        demo = train()
        say(
            f"  held-out accuracy {demo.baseline_accuracy:.3f} (the baseline); reference "
            f"profile of {len(demo.reference.features)} features from the training split"
        )
        if self.stop.is_set():
            return False
        base_url = self._start(demo)
        say(f"  serving {base_url}: POST /predict, POST /ask (RAG), POST {FEEDBACK_ROUTE}, "
            f"GET {DRIFT_PAGE} (drift page)")  # fmt: skip
        say(f"  stand-in LLM (OpenAI-compatible, local): {self.urls['llm']}")
        phases = " -> ".join(p.name for p in PHASES)
        say(f"  {self.options.duration_s:.0f} s of traffic: {phases}  (Ctrl-C stops early)")
        say()
        warm_up(base_url, demo)
        schedule = Schedule(self.options.duration_s, time.monotonic())
        completed = self._drive(Traffic(base_url, demo, schedule, self.stop))
        for line in next_steps(base_url, self.options.otlp_endpoint, DRIFT_PAGE):
            say(line)
        if completed and self.options.serve:
            self._serve()
        return completed

    def close(self) -> None:
        """Stop the traffic, the servers and the telemetry (idempotent)."""
        self.stop.set()
        self.screen.close()
        self._stack.close()
        self.logs.uninstall()
        self.telemetry.shutdown()

    def _start(self, demo: DemoModel) -> str:
        providers: dict[str, Any] = {
            "tracer_provider": self.telemetry.tracer_provider,
            "meter_provider": self.telemetry.meter_provider,
        }
        self.urls["llm"] = self._stack.enter_context(
            running_server(stand_in_reply, model=LLM_MODEL)
        )
        # cost per tenant; the stand-in judges the answers
        llm_settings = self._judged().replace(genai_tenant=TENANT_SOURCE)
        self._stack.callback(otel_ml.instrument_openai(
            **providers, settings=llm_settings, prices=demo_prices(LLM_MODEL)))  # fmt: skip
        app = build_app(demo, RagService(self.urls["llm"], **providers))
        handle = otel_ml.instrument(
            app,
            model_name=MODEL_NAME,
            model_version=MODEL_VERSION,
            reference=demo.reference,
            feedback_route=FEEDBACK_ROUTE,
            drift_page=DRIFT_PAGE,
            **providers,
        )
        self._stack.callback(handle.uninstrument)
        self.urls["app"] = self._stack.enter_context(serve(app))
        self.logs.install()
        return self.urls["app"]

    def _judged(self) -> Settings:
        """Every answer's groundedness judged by the stand-in LLM (the demo's texts
        are its own notes, so they may go to the judge); its worker stops at close."""
        running = set(map(id, evaluation_state.running()))
        self._stack.callback(lambda: [e.close(1.0) for e in evaluation_state.running()
                                      if id(e) not in running])  # fmt: skip
        return get_settings().replace(
            genai_evaluation_rate=1.0, genai_evaluation_judge_url=self.urls["llm"],
            genai_evaluation_judge_model=JUDGE_MODEL, genai_evaluation_content=True,
            genai_evaluation_evaluators=("groundedness",),
        )  # fmt: skip

    def _drive(self, traffic: Traffic) -> bool:
        schedule = traffic.schedule
        self.history.collect()
        traffic.start()
        self._stack.callback(traffic.join)
        last_phase, next_line = -1, 0.0
        while True:
            now = time.monotonic()
            elapsed = min(now - schedule.started, schedule.duration_s)
            phase = schedule.phase(now)
            readout, alerts = self._measure(elapsed, phase)
            done = self.stop.is_set() or now >= schedule.end
            header = Header(f"{MODEL_NAME} v{MODEL_VERSION}", self.urls["app"], elapsed,
                            schedule.duration_s, phase, self.rules.source)  # fmt: skip
            if self.screen.live:
                last_log = self.logs.records[-1] if self.logs.records else None
                self.screen.draw(frame(header, readout, alerts, last_log))
            else:
                if phase != last_phase:
                    current = PHASES[phase]
                    self.screen.print(f"-- phase {phase + 1}/{len(PHASES)} {current.name}: "
                                      f"{current.summary}")  # fmt: skip
                if elapsed >= next_line or done:
                    self.screen.print(status_line(header, readout, alerts))
                    next_line = elapsed + max(1.0, schedule.duration_s / PLAIN_LINES)
                for record in self.logs.new():
                    self.screen.print(f"   log: {record}")
            last_phase = phase
            if done:
                break
            self.stop.wait(min(TICK_S, max(0.01, schedule.end - time.monotonic())))
        completed = not self.stop.is_set()
        self.stop.set()
        traffic.join()
        self._conclude(header, readout, alerts, traffic, completed)
        return completed

    def _measure(self, elapsed: float, phase: int) -> tuple[Readout, list[AlertState]]:
        self.history.collect()
        alerts = self.alerts.evaluate(self.history, elapsed)
        readout = read(self.history)
        self.record.observe(elapsed, phase, readout)
        return readout, alerts

    def _conclude(self, header: Header, readout: Readout, alerts: list[AlertState],
                  traffic: Traffic, completed: bool) -> None:  # fmt: skip
        if not self.screen.live:
            self.screen.print()
            for line in frame(header, readout, alerts):
                self.screen.print(line)
        self.screen.print()
        if not completed:
            self.screen.print("Interrupted (Ctrl-C): the traffic stopped early.")
        spans = self.telemetry.spans.counts
        for line in summary_lines(header.elapsed_s, traffic.stats, self.record, readout,
                                  alerts, spans):  # fmt: skip
            self.screen.print(line)

    def _serve(self) -> None:
        app = self.urls["app"]
        self.stop.clear()
        self.screen.print()
        for line in (
            "Serving until Ctrl-C (the traffic has stopped; try it by hand):",
            f"  {app}/docs  the OpenAPI page: call /predict and /ask from the browser",
            f"  {app}{DRIFT_PAGE}  the drift page",
            f"  {app}{FEEDBACK_ROUTE}  POST labels for the x-prediction-id of a response",
            f"  {self.urls['llm']}  the stand-in LLM (OpenAI-compatible)",
        ):
            self.screen.print(line)
        while not self.stop.wait(TICK_S):
            for record in self.logs.new():
                self.screen.print(f"   log: {record}")
