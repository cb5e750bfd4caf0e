"""OpenTelemetry beyond the per-call span: GenAI metrics, trace-context propagation and OTLP export.

``metrics`` records the GenAI client metrics from each finished call, ``propagation`` parses and formats
W3C and B3 headers, ``propagators`` builds OpenTelemetry propagators for them, ``endpoints`` resolves OTLP
endpoints, headers and protocol from arguments and the environment, ``exporter`` installs the SDK
providers (:class:`~synapsekit.observability.OTelExporter`), ``pipeline`` wraps the OTLP exporters so that
``accounting`` counts what was exported and dropped and shutdown keeps one deadline.
"""
