"""An ordinary openai program, with no synapsekit in it. Observe it with zero code:

    SYNAPSEKIT_BUDGET_USD=0.0001 SYNAPSEKIT_SUMMARY=1 OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 \\
        synapsekit-instrument python examples/zero_code_app.py
"""

import os

import openai

client = openai.OpenAI(
    api_key=os.environ.get("OPENAI_API_KEY", "sk-..."), base_url=os.environ.get("OPENAI_BASE_URL")
)
answered = 0
for question in ["What is RAG?", "What are embeddings?", "What is a vector store?", "Why budgets?"] * 3:
    try:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}], max_tokens=60
        )
        answered += 1
    except Exception as exc:  # the process-wide budget raises synapsekit.BudgetExceeded
        print(f"stopped after {answered} answers: {type(exc).__name__}")
        break
else:
    print(f"answered {answered} questions")
