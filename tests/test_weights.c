/* Weight interchange: a supernet written by prenas, turned into a PyTorch checkpoint shaped
 * like the authors', converted back by tools/torch2h5.py, loads bit for bit and names its
 * space; a checkpoint of another space is refused with the tensor named. */
#include "check.h"

#include "h5.h"
#include "space.h"
#include "vit.h"
#include "weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static Space *load(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "configs/spaces/%s.cfg", name);
    Error err = {0};
    Space *space = space_load_file(path, &err);
    if (!space) exit(1);
    return space;
}

int main(void) {
    h5_silence();
    char dir[] = "/tmp/prenas-test-weights-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    const char *python = getenv("PRENAS_PYTHON") ? getenv("PRENAS_PYTHON") : "/usr/bin/python3";
    char supernet[256], pth[256], converted[256], command[1024];
    snprintf(supernet, sizeof supernet, "%s/supernet.h5", dir);
    snprintf(pth, sizeof pth, "%s/model.pth", dir);
    snprintf(converted, sizeof converted, "%s/converted.h5", dir);

    Space *micro = load("micro");
    Vit *original = vit_create(backend_cpu(), micro, 1),
        *loaded = vit_create(backend_cpu(), micro, 1);
    vit_init(original, 3);
    char *argv[] = {"test_weights"};
    Error err = {0};
    CHECK(weights_save_supernet(supernet, &original->table, micro, 1, argv, &err));
    snprintf(command, sizeof command, "%s tests/oracle/h5_to_pth.py %s %s", python, supernet, pth);
    CHECK(system(command) == 0);
    snprintf(command, sizeof command,
             "%s tools/torch2h5.py --config configs/spaces/micro.cfg %s %s >/dev/null", python, pth,
             converted);
    CHECK(system(command) == 0);
    CHECK(weights_load_supernet(converted, &loaded->table, &err));
    CHECK(memcmp(original->table.params, loaded->table.params,
                 original->table.n_params * sizeof(real)) == 0);
    /* both files carry the space in /meta/config (no /space: not training checkpoints) */
    for (int i = 0; i < 2; i++) {
        char *text = weights_supernet_space(i ? converted : supernet, &err);
        Space *recorded = text ? space_load_text(text, "test", &err) : NULL;
        CHECK(recorded && space_same_search(recorded, micro));
        space_free(recorded);
        free(text);
    }

    /* the same file into a supernet of another shape */
    Space *tiny = load("vit-tiny");
    Vit *other = vit_create(backend_cpu(), tiny, 1);
    memset(&err, 0, sizeof err);
    CHECK(!weights_load_supernet(converted, &other->table, &err));
    CHECK_STR_CONTAINS(err.message, "tensor params/patch_embed_super.proj.weight has shape [80, 1, "
                                    "4, 4], this supernet's is [256, 3, 16, 16]");
    CHECK_STR_CONTAINS(err.message, converted);

    /* torch2h5 on something that is not a checkpoint: exit 2, one line, no output */
    char bogus[256], out[256];
    snprintf(bogus, sizeof bogus, "%s/bogus.pth", dir);
    snprintf(out, sizeof out, "%s/bogus.h5", dir);
    FILE *f = fopen(bogus, "w");
    fputs("not a checkpoint\n", f);
    fclose(f);
    snprintf(command, sizeof command,
             "%s tools/torch2h5.py --config configs/spaces/micro.cfg %s %s 2>%s/stderr.txt", python,
             bogus, out, dir);
    int status = system(command);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    CHECK(access(out, F_OK) != 0);

    vit_free(original), vit_free(loaded), vit_free(other);
    space_free(micro), space_free(tiny);
    int rc = check_summary();
    snprintf(command, sizeof command, "rm -rf %s", dir);
    if (system(command) != 0) rc = 1;
    return rc;
}
