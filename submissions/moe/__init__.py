"""AdamW on the MoE LM (lm_moe) with each load-balancing rule; only lm_moe accepts their options."""
