module panicnil

go 1.19
