module panicnil

go 1.15
