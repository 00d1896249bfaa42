#ifndef PRENAS_FAMILY_H
#define PRENAS_FAMILY_H

/* The model family a search space is for (docs/design.md §8): its top-level `family` key
 * (config.h reads it), absent or "vit" for the ViT (src/vit/space), "cnn" for the MBConv CNN
 * (src/cnn/cnn_space). Apart from config.h so that the engine names a family without libconfig,
 * which the GPU machine's tier-1 build lacks (tests/device/CMakeLists.txt). */
typedef enum { FAMILY_VIT, FAMILY_CNN } ModelFamily;

#endif
