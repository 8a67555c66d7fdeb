"""Data sets: loaders for real data (Fashion-MNIST) and captions built from their labels."""
