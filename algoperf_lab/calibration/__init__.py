"""`algoperf-lab calibrate`: calibrate the non-learning-rate hyperparameters of self-tuning
submissions against a calibrated reference (Kasimbeg et al. 2025, "How far away are truly
hyperparameter-free learning algorithms?")."""
