# Helpers of the simulation rules (simulate.smk).


def simulation_mem_mb():
    """Memory of simulate_genetics: int8 genotypes of both cohorts, a few copies."""
    sim = config["simulate"]
    people = sim["n_people"] + sim["external_gwas"]["n_people"]
    return int(1000 + 4 * people * sum(simulated_variants().values()) / 10**6)
