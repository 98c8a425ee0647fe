// Opens a BPF object with libbpf and loads it with debug logging on, printing libbpf's log
// (one line per CO-RE relocation step) and then every program's instructions as libbpf left
// them after relocation: "INSN <prog> <index> <code> <dst> <src> <off> <imm>".
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <stdarg.h>
#include <stdio.h>

static int print_all(enum libbpf_print_level level, const char *format, va_list args)
{
    (void)level;
    return vfprintf(stdout, format, args);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OBJECT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    libbpf_set_print(print_all);
    struct bpf_object *object = bpf_object__open_file(argv[1], NULL);
    if (!object) {
        printf("\nOPEN FAILED\n");
        return 1;
    }
    int result = bpf_object__load(object);
    printf("\nLOAD RESULT %d\n", result);
    struct bpf_program *program;
    bpf_object__for_each_program(program, object) {
        const struct bpf_insn *instructions = bpf_program__insns(program);
        size_t count = bpf_program__insn_cnt(program);
        for (size_t index = 0; instructions && index < count; index++) {
            const struct bpf_insn *insn = &instructions[index];
            printf("INSN %s %zu %u %u %u %d %d\n", bpf_program__name(program), index,
                   insn->code, insn->dst_reg, insn->src_reg, insn->off, insn->imm);
        }
    }
    bpf_object__close(object);
    return 0;
}
