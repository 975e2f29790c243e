# cmake -DINPUT=file -DOUTPUT=file.inc -P EmbedText.cmake: writes INPUT's text
# as a C++ raw string literal, for sources that #include it.
file(READ ${INPUT} text)
file(WRITE ${OUTPUT} "R\"quantc_embedded(${text})quantc_embedded\"\n")
