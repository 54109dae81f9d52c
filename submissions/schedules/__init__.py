"""AdamW under one learning-rate schedule each; the schedules live in submissions/lib/schedules/."""
