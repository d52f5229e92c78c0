"""Generated Netflix-like ratings, binarised as in CS109's netflix set (1 = five stars).

A latent-factor model: each user has a few tastes, each movie a profile over the same tastes;
a rating is a global mean, plus the user's bias (a generous or a harsh rater), plus the movie's
bias (a good or a bad film), plus taste · profile, plus noise, rounded and clipped to 1..5
stars. The prediction task mirrors CS109's: from whether a user gave five stars to each of the
other movies (and a demographic bit that leans with the first taste), predict five stars for
one target movie. Seeded, pure numpy.
"""

from __future__ import annotations

import numpy as np

from cs109nn.data.dataset import Dataset
from cs109nn.data.transforms import train_test_split
from cs109nn.errors import ConfigError

DEMOGRAPHIC = "Demographic"


def star_ratings(
    num_users: int,
    num_movies: int,
    seed: int,
    *,
    num_tastes: int = 3,
    taste_scale: float = 1.0,
    bias_scale: float = 0.5,
    noise: float = 0.5,
    mean_stars: float = 4.2,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw star ratings from a latent-factor model.

    stars[u, m] = clip(round(mean_stars + b_user[u] + b_movie[m]
                             + taste_scale · tastes[u] · profile[m] / sqrt(num_tastes)
                             + noise · ε[u, m]), 1, 5)
    with tastes, profiles, ε ~ N(0, 1) and biases ~ N(0, bias_scale²).

    Returns:
      ``(stars, tastes)``: stars [num_users, num_movies] int32 in 1..5 and the users' latent
      tastes [num_users, num_tastes] float64 (ground truth, for analysis).
    """
    if num_users < 1 or num_movies < 1 or num_tastes < 1:
        raise ConfigError("num_users, num_movies and num_tastes must be positive")
    # One stream per factor, so the movies do not depend on num_users and the first users'
    # ratings do not change when more users are drawn (user streams fill row by row).
    movie_rng, taste_rng, bias_rng, noise_rng = (
        np.random.default_rng([seed, stream]) for stream in range(4)
    )
    profiles = movie_rng.standard_normal((num_movies, num_tastes))
    movie_bias = bias_scale * movie_rng.standard_normal((1, num_movies))
    tastes = taste_rng.standard_normal((num_users, num_tastes))
    user_bias = bias_scale * bias_rng.standard_normal((num_users, 1))
    affinity = taste_scale * tastes @ profiles.T / np.sqrt(num_tastes)
    score = mean_stars + user_bias + movie_bias + affinity
    score = score + noise * noise_rng.standard_normal((num_users, num_movies))
    stars = np.clip(np.rint(score), 1, 5).astype(np.int32)
    return stars, tastes


def ratings(
    n: int = 1000,
    seed: int = 0,
    *,
    num_movies: int = 20,
    num_tastes: int = 3,
    noise: float = 0.5,
    demographic: bool = True,
    test_fraction: float = 0.25,
) -> Dataset:
    """The CS109 netflix task on generated users: five stars for the last movie?

    Args:
      n: number of users (examples), before the train/test split.
      seed: one seed for the ratings, the demographic bit and the split.
      num_movies: movies rated by every user; the last is the target, the others are features.
      num_tastes, noise: of the latent-factor model (``star_ratings``).
      demographic: append a 0/1 ``Demographic`` feature, P(1) = σ(2 · first taste).
      test_fraction: share of users held out for test.

    Returns:
      Dataset "ratings": x [n_train, m] float32 in {0, 1}, m = num_movies - 1 (+ 1 with the
      demographic bit), named ``movie_00``, ``movie_01``, … (then ``Demographic``);
      y [n_train] int32, 1 = five stars for the target movie; the same for test.
    """
    if num_movies < 2:
        raise ConfigError(
            f"num_movies must be at least 2 (features and a target), got {num_movies}"
        )
    stars, tastes = star_ratings(n, num_movies, seed, num_tastes=num_tastes, noise=noise)
    five = (stars == 5).astype(np.float32)
    width = max(2, len(str(num_movies - 1)))
    names = tuple(f"movie_{j:0{width}d}" for j in range(num_movies - 1))
    x, y = five[:, :-1], five[:, -1].astype(np.int32)
    # Streams beyond star_ratings' four, so the bit and the split leave the ratings unchanged.
    rng = np.random.default_rng([seed, 4])
    split_seed = int(rng.integers(2**32))
    if demographic:
        p = 1.0 / (1.0 + np.exp(-2.0 * tastes[:, 0]))
        bit = (rng.uniform(size=n) < p).astype(np.float32)
        x = np.concatenate([x, bit[:, None]], axis=1)
        names = (*names, DEMOGRAPHIC)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_fraction, seed=split_seed)
    return Dataset("ratings", x_train, y_train, x_test, y_test, names, num_classes=2)
