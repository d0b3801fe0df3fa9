"""Training: batched augmentations, the training loop, methods and embedding export."""
