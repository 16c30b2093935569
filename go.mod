module github.com/memerr/memerr

go 1.26.8
