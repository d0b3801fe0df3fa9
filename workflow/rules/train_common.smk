# Helpers of the training rules (train.smk).

BACKBONE = config["train"]["backbone"]["path"]


def backbone_input(method):
    """The pretrained backbone checkpoint when ``method`` runs it (frozen, frozen_vit)."""
    uses = method == "frozen" or (
        method in TRAINED and config["train"]["encoder"] == "frozen_vit"
    )
    return [BACKBONE] if uses else []
