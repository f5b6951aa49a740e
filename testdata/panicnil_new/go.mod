module panicnil_new

go 1.15
