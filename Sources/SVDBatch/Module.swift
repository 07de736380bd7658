import SVDCore
