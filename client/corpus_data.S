/* The built-in prompt corpus: fixtures/sherlock-holmes.txt (public domain),
 * embedded read-only between tb_corpus_start and tb_corpus_end. */
    .section .rodata
    .globl tb_corpus_start
    .globl tb_corpus_end
    .balign 16
tb_corpus_start:
    .incbin "fixtures/sherlock-holmes.txt"
tb_corpus_end:
    .byte 0

    .section .note.GNU-stack,"",@progbits
