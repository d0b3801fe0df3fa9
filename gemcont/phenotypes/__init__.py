"""Phenotype preprocessing: images and curves -> one memory-mappable uint8 store."""
