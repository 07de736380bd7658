print("svdbatch: under construction")
