"""The Gradio app: an adapter over build_assistant, nothing more."""
