"""The report's words explained once, where the reader first needs them (the "How to read this report" box)."""

from __future__ import annotations

#: (term, explanation), in the order a reader meets them on the page.
GLOSSARY: tuple[tuple[str, str], ...] = (
    ("Bias-adjusted answer (primary)", "Q1, Q2 and Q5 rest only on retrospective cohorts, whose HRs can be biased, "
     "mostly in favour of the ICI (patients fit enough to be given an ICI again do better anyway). Each cohort's HR "
     "is therefore read as its true HR plus a bias whose size follows from its risk-of-bias assessment (ROBINS-I; "
     "Turner et al. 2009): the primary answer allows for that bias, so it is nearer 1 and wider than the "
     "unadjusted one, which is shown beside it ('unadjusted for bias'). The bias priors are data "
     "(models/priors/bias/); the sensitivity section shows the others."),
    ("Certainty of evidence", "GRADE (pairwise answers) or CINeMA (network contrasts): how much confidence the "
     "evidence supports, from high to very low, lowered for risk of bias, inconsistency, indirectness, imprecision "
     "and publication bias (or incoherence). 'Very low' means the true effect may be substantially different."),
    ("Absolute effect", "what the HR means for 100 patients: the comparator's survival at 12 months (a cited "
     "baseline curve, data/baselines.csv) raised to the power HR, under proportional hazards."),
    ("HR (hazard ratio)", "the hazard of death (OS) or of progression or death (PFS) with the first-named treatment "
     "divided by that with the comparator; below 1 favours the first-named. Every contrast in this report is "
     "written in that one direction."),
    ("95% CrI (credible interval)", "the range that holds the true pooled HR with 95% probability, given the model, "
     "the priors and the data."),
    ("P(HR < 1), P(HR < 0.8)", "the posterior probability of any benefit, and of a benefit of at least HR 0.8 (the "
     "smallest most clinicians would act on)."),
    ("tau (heterogeneity)", "the standard deviation of the true log HRs between cohorts. With 2-3 cohorts the data say "
     "little about it, so its prior matters (see the sensitivity section and the live prior explorer)."),
    ("Predictive HR, 95% PrI", "the HR expected in a new cohort (a population not yet studied): the pooled effect plus "
     "the between-cohort variation tau. Its predictive interval (PrI) is wider than the CrI and is the honest range "
     "for a new setting."),
    ("Prior", "what is assumed before the data: for the effect a normal distribution on log HR (default N(0, 2^2), "
     "nearly flat); for tau a half-normal(0.5). 'Sceptical' centres the effect on no benefit, 'enthusiastic' on HR "
     "0.75."),
    ("Prior-data conflict", "the prior and the data pull the estimate in different directions (both power-scaling "
     "sensitivities above 0.05); the answer then depends on the prior."),
    ("Convergence check", "an MCMC fit is an answer only when R-hat <= 1.01 (chains agree), the effective sample size "
     "ESS >= 400 and no transition diverged. Exact fits are computed by numerical integration and need no check. "
     "Rows that failed are marked FAILED in red in every table and stamped on every figure."),
    ("Shrunken study estimate", "a cohort's HR after partial pooling towards the others (the random-effects model "
     "borrows strength across cohorts)."),
    ("Network meta-analysis", "compares several treatments at once through a common comparator; indirect "
     "comparisons rest on the assumption that the cohorts are similar enough (transitivity)."),
    ("Node-splitting", "estimates a network contrast separately from the studies that compare the two treatments "
     "directly and from the rest of the network; a direct/indirect ratio far from 1 signals inconsistency."),
    ("SUCRA, P(best), rank", "the surface under the cumulative ranking curve (1 = always ranked first, 0 = always "
     "last), the probability of ranking first, and the rank with its 95% credible interval. Overlapping rank "
     "intervals mean the ranking does not separate the treatments."),
    ("E-value", "how strongly an unmeasured confounder would have to be associated with both treatment choice and "
     "death to explain the pooled HR away."),
    ("Interaction (ratio of HRs)", "the treatment HR in one subgroup divided by that in the other, within the same "
     "cohort; 1 means the same benefit in both."),
)
