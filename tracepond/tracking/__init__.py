"""tracepond/tracking: runs, models and the registry; and quality (issue 13):
:mod:`assessments` (feedback and expectations on traces), :mod:`scoring` (``@scorer``),
:mod:`scorers` (the built-ins), :mod:`judges` (LLM judges), :mod:`evaluation` (``evaluate()``),
:mod:`datasets` (versioned evaluation datasets)."""
