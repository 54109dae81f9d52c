"""Vision transformer image classifier: Fashion-MNIST, CIFAR-10 and ImageNet."""
