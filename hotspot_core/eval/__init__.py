"""Offline evaluation: ground-truth heatmaps and the reference metrics (KLD, SIM, AUC-Judd, NSS)."""
