/* fuzz_pack: what the IDX and CIFAR harnesses share, prenas-pack's path from a source to the
 * file it writes. */
#include "fuzz.h"

#include "h5.h"

#include <hdf5.h>

void fuzz_pack(const SourceOptions *options) {
    Source source;
    Error err = {0};
    bool ok = source_open(&source, options, &err);
    if (ok) {
        /* the core driver without a backing store: the file never reaches a disk */
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        CHECK_H5(fapl);
        CHECK_H5(H5Pset_fapl_core(fapl, 1 << 20, 0));
        hid_t file = H5Fcreate("fuzz-pack.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        CHECK_H5(file);
        PackTotals totals;
        ok = pack_write(file, &source, NULL, &totals, &err);
        CHECK_H5(H5Fclose(file));
        CHECK_H5(H5Pclose(fapl));
    }
    source_close(&source);
    fuzz_expect(ok, &err, NULL);
}
