#ifndef PRENAS_CNN_ARTEFACTS_H
#define PRENAS_CNN_ARTEFACTS_H

/* What the CNN family keeps in the stages' artefacts. The schemas are the ViT's (scores.h5:
 * prenas.scores, preferred.h5: prenas.preferred, docs/design.md §6); the space in /meta/config
 * says `family = "cnn"`, and a stage reads that first (cfg_text_family) to know which of the two
 * layouts it holds.
 *
 * scores.h5 (prenas-score on a CNN space; method.md §13, plain SNIP):
 *   /saliency  float64 [n_params]: |theta * dL/dtheta| of every supernet parameter in the
 *              supernet table's order (cnn_net.h names, cnn_saliency); prenas-select rebuilds
 *              the prefix-sum tables from it (cnn_score_tables_build), so that it scores any
 *              architecture without the pass
 *   attrs      family "cnn", n_params, resolution (the pass's), bignas_gamma (0/1), and the ViT's
 *              mode, images, architecture, objective, gradient_seconds
 *
 * preferred.h5 (prenas-select on CNN scores; cnn_select.h):
 *   /intervals  lo, hi (int64 FLOPs, inclusive), target (float64 MFLOPs), groups (int64: draws
 *               that fell in the band, uniform and filling), kept (int)
 *   /candidates arch (text, cnn_arch.h), interval (int), params, flops, macs (int64), score
 *               (float64 SNIP), draw (int64): group by group, best first
 *   attrs       family "cnn", budget "flops", rank_proxy "snip", per_interval, samples,
 *               outside_intervals, seed, group_min, group_cap */

#include "cnn_cost.h"
#include "cnn_net.h"
#include "cnn_scores.h"
#include "cnn_select.h"
#include "h5.h"

void cnn_scores_write(hid_t file, const CnnNet *net, const double *saliency);
/* The saliency of a CNN scores.h5 [n] (xmalloc'd), or NULL and an input error when /saliency is
 * missing, never written or of another length than n (the space's supernet parameters). */
double *cnn_scores_read(const H5Source *src, size_t n);
/* prenas-select's reading: the SNIP tables (cnn_scores.h) of the saliency in a CNN scores.h5 of
 * `space`, laid out by a CPU supernet of the space made for the purpose; NULL and an input
 * error as cnn_scores_read. */
CnnScoreTables *cnn_scores_tables_read(const H5Source *src, const CnnSpace *space);

void cnn_preferred_write(hid_t file, const CnnSelection *selection, const CnnSpace *space,
                         const CnnSelectOptions *options);

#endif
