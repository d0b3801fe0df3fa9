"""The genotype stage: genetic PCs (:mod:`.pcs`), panel dosage features and the PRS
(:mod:`.features`), and the stage entry points the rules call (:mod:`.stage`)."""
