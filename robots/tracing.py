"""Optional OpenTelemetry traces: one span per run and one per step, so a run can be followed in
the municipality's own tracing (Grafana Tempo, Jaeger, Azure Monitor ...). Off unless
`otlp_endpoint` is set (OTLP over HTTP, e.g. http://otel-collector:4318/v1/traces); the
packages come with `pip install kommune-rpa[otel]`. Span attributes carry ids and outcomes,
never payloads or personal data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from robots.settings import Settings

_tracer: Any = None
_provider: Any = None


def configure(settings: Settings, exporter: Any = None) -> bool:
    """Start tracing for this process (a worker calls it once); True if it is on. `exporter`:
    another span exporter (the tests' in-memory one)."""
    global _tracer, _provider
    if not settings.otlp_endpoint and exporter is None:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name})
    )
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
        )
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _provider, _tracer = provider, provider.get_tracer("kommune-rpa")
    return True


def shutdown() -> None:
    """Send what is left (a worker calls it when it stops)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


@contextmanager
def span(name: str, attributes: Mapping[str, str | int | float | bool]) -> Iterator[Any]:
    """A span when tracing is on (yields it, to add attributes at the end), else nothing."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(name, attributes=dict(attributes)) as current:
        yield current
