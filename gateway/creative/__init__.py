"""Creative help for shots: prompt analysis and the regeneration guard."""

from gateway.engine.prompts import Analysis, analyze_prompt, normalize_prompt, wants_motion

__all__ = ["Analysis", "analyze_prompt", "normalize_prompt", "wants_motion"]
